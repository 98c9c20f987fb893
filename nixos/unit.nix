# The systemd service of a k8shost host, as a pure function so tests can evaluate it without
# nixpkgs. k8shost is the main process: it supervises k3s itself, forwards the stop to it and
# sends READY=1 once k3s and every embedded part are ready (hence Type=notify).
{ k8shost, mode, configFile, path ? "", after ? [ ], wants ? [ ] }:
{
  description = "PlasmaCloud K8s hosting (k8shost ${mode}, supervising k3s ${mode})";
  after = [ "network-online.target" ] ++ after;
  wants = [ "network-online.target" ] ++ wants;
  wantedBy = [ "multi-user.target" ];
  environment = { PATH = path; };
  serviceConfig = {
    Type = "notify";
    NotifyAccess = "main";
    ExecStart = "${k8shost} ${mode} --config ${configFile}";
    # Only k8shost gets SIGTERM: it stops k3s with a grace period, and containerd's shims
    # (the running pods) survive a restart of the service, as with k3s's own unit.
    KillMode = "process";
    Delegate = "yes";
    LimitNOFILE = 1048576;
    LimitNPROC = "infinity";
    LimitCORE = "infinity";
    TasksMax = "infinity";
    TimeoutStartSec = 0;
    TimeoutStopSec = "90s";
    Restart = "always";
    RestartSec = "5s";
    StateDirectory = "k8shost";
    StateDirectoryMode = "0700";
    LogsDirectory = "k8shost";
    RuntimeDirectory = "k8shost";
  };
}
