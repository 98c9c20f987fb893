# A worker.
{
  mode = "agent";
  serverUrl = "https://k8s-api-lb.internal:6443";
  tokenFile = "/run/keys/k8shost-token";
  prismnet.mtu = 1450;
  log = { level = "debug"; format = "logfmt"; };
}
