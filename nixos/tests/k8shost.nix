# The real end-to-end test, for anyone with Nix and KVM: a server and an agent VM running k3s
# under k8shost with the embedded PlasmaCloud services, and the specification's integration
# scenarios (pod networking, LoadBalancer IP, DNS, PVC). Images are built by Nix and imported
# by k3s from its images directory, so the test needs no registry.
{ module }:
{ pkgs, lib, ... }:
let
  image = pkgs.dockerTools.buildImage {
    name = "test.local/busybox";
    tag = "latest";
    copyToRoot = pkgs.buildEnv { name = "root"; paths = [ pkgs.busybox ]; pathsToLink = [ "/bin" ]; };
    config.Cmd = [ "/bin/sh" "-c" "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 8080 -h /www" ];
  };
  imagesDir = "/var/lib/k8shost/k3s/agent/images";
  common = { mode, extra ? { } }: { config, ... }: {
    imports = [ module ];
    virtualisation = { memorySize = 3072; diskSize = 8192; cores = 2; };
    networking.firewall.enable = false;
    environment.systemPackages = [ pkgs.kubectl pkgs.dnsutils pkgs.curl ];
    systemd.tmpfiles.rules = [
      "d ${imagesDir} 0755 root root -"
      "L+ ${imagesDir}/airgap.tar.zst - - - - ${pkgs.k3s.passthru.airgapImages}"
      "L+ ${imagesDir}/busybox.tar.gz - - - - ${image}"
    ];
    environment.etc."k8shost/token".text = "k8shost-vm-test-token";
    services.k8shost = lib.recursiveUpdate {
      enable = true;
      inherit mode;
      tokenFile = "/etc/k8shost/token";
      fiberlb.externalIpPool = "192.168.1.200-192.168.1.220";
    } extra;
  };
in
{
  name = "k8shost";
  nodes = {
    server = common { mode = "server"; extra.networking.tlsSans = [ "server" ]; };
    agent = common { mode = "agent"; extra.serverUrl = "https://server:6443"; };
  };

  testScript = ''
    kubectl = "kubectl --kubeconfig /var/lib/k8shost/kubeconfig.yaml "
    start_all()
    server.wait_for_unit("k8shost.service")
    agent.wait_for_unit("k8shost.service")
    server.wait_until_succeeds(kubectl + "get node agent | grep -w Ready", timeout=300)
    server.wait_until_succeeds(kubectl + "get node server | grep -w Ready", timeout=300)

    with subtest("health endpoints and readiness"):
        server.succeed("curl -sf http://127.0.0.1:10258/readyz")
        server.succeed("curl -sf http://127.0.0.1:10258/metrics | grep k8shost_")

    with subtest("pod networking across nodes"):
        server.succeed(kubectl + "create deployment web --image=test.local/busybox:latest --replicas=2")
        server.succeed(kubectl + "patch deployment web -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"busybox\",\"imagePullPolicy\":\"Never\"}]}}}}'")
        server.wait_until_succeeds(kubectl + "rollout status deployment/web --timeout=10s", timeout=240)
        ips = server.succeed(kubectl + "get pods -l app=web -o jsonpath='{.items[*].status.podIP}'").split()
        assert len(ips) == 2, ips
        for ip in ips:
            server.wait_until_succeeds(f"curl -sf http://{ip}:8080/ | grep hello", timeout=60)

    with subtest("LoadBalancer Service gets an external IP that serves"):
        server.succeed(kubectl + "expose deployment web --type=LoadBalancer --port=80 --target-port=8080")
        server.wait_until_succeeds(kubectl + "get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ip}' | grep 192.168.1.2", timeout=30)
        lbip = server.succeed(kubectl + "get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ip}'").strip()
        server.wait_until_succeeds(f"curl -sf http://{lbip}/ | grep hello", timeout=60)

    with subtest("DNS answers for the Service"):
        clusterip = server.succeed(kubectl + "get svc web -o jsonpath='{.spec.clusterIP}'").strip()
        server.wait_until_succeeds(f"dig +short @127.0.0.1 web.default.svc.cluster.local | grep -x {clusterip}", timeout=30)

    with subtest("PVC is provisioned, bound and mounted"):
        server.succeed("""cat <<'YAML' | """ + kubectl + """apply -f -
    apiVersion: storage.k8s.io/v1
    kind: StorageClass
    metadata: {name: lightningstor-ssd}
    provisioner: stor.plasmacloud.io
    parameters: {type: ssd, replication: "1"}
    volumeBindingMode: WaitForFirstConsumer
    allowVolumeExpansion: true
    ---
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: lightningstor-ssd
      resources: {requests: {storage: 64Mi}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: writer}
    spec:
      containers:
      - name: w
        image: test.local/busybox:latest
        imagePullPolicy: Never
        command: ["/bin/sh", "-c", "echo persisted > /data/f && sleep 3600"]
        volumeMounts: [{name: d, mountPath: /data}]
      volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
    YAML""")
        server.wait_until_succeeds(kubectl + "get pvc data -o jsonpath='{.status.phase}' | grep Bound", timeout=60)
        server.wait_until_succeeds(kubectl + "exec writer -- cat /data/f | grep persisted", timeout=120)

    with subtest("stop forwards to k3s and leaves no orphans"):
        agent.succeed("systemctl stop k8shost.service")
        agent.fail("pgrep -f 'k3s agent'")
  '';
}
