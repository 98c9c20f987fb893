{
  description = "k8shost: PlasmaCloud's managed Kubernetes (k3s + IAM, PrismNET, FiberLB, FlashDNS, LightningStor)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAll (pkgs: rec {
        k8shost = pkgs.callPackage ./nixos/package.nix { };
        default = k8shost;
      });

      nixosModules.k8shost = { pkgs, ... }: {
        imports = [ ./nixos/module.nix ];
        services.k8shost.package = nixpkgs.lib.mkDefault self.packages.${pkgs.system}.k8shost;
      };
      nixosModules.default = self.nixosModules.k8shost;

      checks = forAll (pkgs: {
        vm = pkgs.testers.runNixOSTest (import ./nixos/tests/k8shost.nix { module = self.nixosModules.k8shost; });
      });
    };
}
