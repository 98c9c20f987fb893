# Must be rejected by the product's validator: the pod and Service ranges overlap.
{
  mode = "server";
  networking = { serviceCIDR = "10.96.0.0/12"; clusterCIDR = "10.100.0.0/16"; };
}
