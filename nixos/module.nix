# services.k8shost: one option per config-file key (generated from the product's own schema
# into options.json), the config file, the systemd unit, the CNI links and the firewall.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf types;
  cfg = config.services.k8shost;
  k8shostLib = import ./lib.nix;
  inherit (k8shostLib) tree isLeaf;
  leafType = o: {
    str = types.str;
    int = types.int;
    bool = types.bool;
    duration = types.either types.str types.int;
    listOfStr = types.listOf types.str;
    listOfInt = types.listOf types.int;
    enum = types.enum (o.values or [ ]);
  }.${o.type};
  secretNote = o: lib.optionalString (o.secret or false)
    " A path read at run time: keep the file outside the Nix store (for example under /run/keys).";
  toOptions = t: lib.mapAttrs
    (_: o:
      if isLeaf o then
        mkOption {
          type = types.nullOr (leafType o);
          default = null;
          defaultText = lib.literalExpression (builtins.toJSON (o.default or null));
          description = o.doc + secretNote o + " Unset: the product's default.";
        }
      else toOptions o)
    t;
  withK3sBin = s: lib.recursiveUpdate { k3s.bin = "${cfg.k3sPackage}/bin/k3s"; } s;
  settings = withK3sBin (k8shostLib.render tree cfg);
  configFile = pkgs.writeText "k8shost-config.yaml" (builtins.toJSON settings);
  mode = if cfg.mode == null then "server" else cfg.mode;
  isServer = mode == "server";
  dataDir = if cfg.dataDir == null then "/var/lib/k8shost" else cfg.dataDir;
  cniBinDir = "${dataDir}/k3s/data/cni";
  etcd = cfg.datastore == "etcd";
  ovn = cfg.prismnet.ovn.northbound != null && cfg.prismnet.ovn.northbound != "";
  embeddedDns = cfg.flashdns.enable != false && (cfg.flashdns.endpoint == null || cfg.flashdns.endpoint == "");
  secretInStore = p: p != null && lib.hasPrefix builtins.storeDir p;
  secretPaths = [ cfg.tokenFile cfg.iam.tokenFile cfg.iam.keyFile cfg.iam.webhook.keyFile
    cfg.iam.jwt.hs256SecretFile cfg.prismnet.tokenFile cfg.prismnet.keyFile cfg.fiberlb.tokenFile
    cfg.fiberlb.keyFile cfg.flashdns.tokenFile cfg.flashdns.keyFile cfg.lightningstor.tokenFile
    cfg.lightningstor.keyFile ];
in
{
  options.services.k8shost = toOptions tree // {
    enable = mkEnableOption "PlasmaCloud K8s hosting (k8shost supervising k3s)";
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      description = "The k8shost package.";
    };
    k3sPackage = mkOption {
      type = types.package;
      default = pkgs.k3s;
      description = "The k3s package k8shost supervises.";
    };
    openFirewall = mkOption {
      type = types.bool;
      default = true;
      description = "Open the API server, kubelet, etcd, DNS and tunnel ports this host serves.";
    };
    after = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "iam.service" "prismnet.service" ];
      description = "PlasmaCloud services on this host to start before k8shost.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [{
      assertion = !(lib.any secretInStore secretPaths);
      message = "services.k8shost: a token or key file points into the Nix store, which is world-readable; keep secrets outside it.";
    }];

    environment.systemPackages = [ cfg.package cfg.k3sPackage ];
    environment.etc."k8shost/config.yaml".source = configFile;

    systemd.services.k8shost = import ./unit.nix {
      k8shost = "${cfg.package}/bin/k8shost";
      inherit mode;
      configFile = "/etc/k8shost/config.yaml";
      path = lib.makeBinPath ([ cfg.k3sPackage pkgs.iproute2 pkgs.util-linux pkgs.e2fsprogs
        pkgs.xfsprogs pkgs.kmod pkgs.iptables pkgs.mount pkgs.coreutils ]
        ++ lib.optional ovn pkgs.openvswitch);
      after = cfg.after;
      wants = cfg.after;
    } // { restartTriggers = [ configFile ]; };

    # The CNI face is the same binary under another name; agent mode also (re)creates this link.
    systemd.tmpfiles.rules = [
      "d ${dataDir} 0700 root root -"
      "d /etc/k8shost 0755 root root -"
      "d ${cniBinDir} 0755 root root -"
      "L+ ${cniBinDir}/prismnet - - - - ${cfg.package}/bin/k8shost"
    ];

    boot.kernelModules = [ "br_netfilter" "overlay" "loop" "veth" ];
    boot.kernel.sysctl = {
      "net.ipv4.ip_forward" = 1;
      "net.bridge.bridge-nf-call-iptables" = 1;
      "net.ipv6.conf.all.forwarding" = 1;
    };

    networking.firewall = mkIf cfg.openFirewall {
      allowedTCPPorts = [ 10250 ] ++ lib.optionals isServer [ 6443 ]
        ++ lib.optionals (isServer && etcd) [ 2379 2380 ]
        ++ lib.optionals (isServer && embeddedDns) [ 53 ];
      allowedUDPPorts = lib.optionals ovn [ 6081 ] ++ lib.optionals (isServer && embeddedDns) [ 53 ];
    };
  };
}
