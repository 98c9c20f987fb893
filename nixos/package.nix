# k8shost as one `deno compile` binary. Two steps, so the build stays pure: a fixed-output
# derivation fetches the npm dependencies into a DENO_DIR (network allowed, output pinned by
# hash), then the compile runs offline against that cache and nixpkgs' denort runtime.
{ lib, stdenvNoCC, deno, cacert, makeWrapper }:
let
  src = lib.cleanSourceWith {
    src = ./..;
    filter = path: _type:
      let rel = lib.removePrefix (toString ./.. + "/") (toString path);
      in !(lib.hasPrefix "dist" rel || lib.hasPrefix ".git" rel || lib.hasPrefix "bench" rel);
  };
  denoDeps = stdenvNoCC.mkDerivation {
    pname = "k8shost-deno-deps";
    version = "0.1.0";
    inherit src;
    nativeBuildInputs = [ deno cacert ];
    buildPhase = ''
      export DENO_DIR=$out HOME=$TMPDIR
      deno install --frozen --entrypoint main.ts
    '';
    dontInstall = true;
    dontFixup = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    # Update with `nix build .#k8shost.denoDeps` after changing deno.lock.
    outputHash = lib.fakeHash;
  };
in
stdenvNoCC.mkDerivation {
  pname = "k8shost";
  version = "0.1.0";
  inherit src;
  nativeBuildInputs = [ deno makeWrapper ];
  buildPhase = ''
    export HOME=$TMPDIR
    cp -r ${denoDeps} $TMPDIR/deno-dir && chmod -R u+w $TMPDIR/deno-dir
    export DENO_DIR=$TMPDIR/deno-dir DENORT_BIN=${deno}/bin/denort
    deno compile --cached-only --frozen --allow-all --include proto --include mod/fiberlbd/worker.ts \
      --output k8shost main.ts
  '';
  installPhase = ''
    install -Dm755 k8shost $out/bin/k8shost
    ln -s k8shost $out/bin/prismnet
  '';
  dontStrip = true; # the compiled binary carries its program after the ELF; stripping breaks it
  passthru = { inherit denoDeps; };
  meta = {
    description = "PlasmaCloud K8s hosting: k3s supervisor, controllers, CNI and CSI in one binary";
    license = lib.licenses.asl20;
    platforms = [ "x86_64-linux" "aarch64-linux" ];
    mainProgram = "k8shost";
  };
}
