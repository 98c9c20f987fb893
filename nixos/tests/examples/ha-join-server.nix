# A server joining the HA cluster through the API load balancer.
{
  mode = "server";
  datastore = "etcd";
  serverUrl = "https://k8s-api-lb.internal:6443";
  tokenFile = "/run/keys/k8shost-token";
  networking.tlsSans = [ "k8s-api-lb.example.com" ];
  auditLog = { maxAge = 7; maxBackup = 3; };
}
