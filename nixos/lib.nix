# Pure helpers shared by module.nix and the repository's tests (no nixpkgs needed, so a bare
# `nix-instantiate --eval` can run them): how option values become the config file.
let
  isLeaf = o: o ? type && builtins.isString o.type && o ? doc;

  # Option values shaped like the tree; a key the host did not set is null.
  settingsOf = tree: values:
    builtins.mapAttrs
      (name: o:
        let v = if values != null && values ? ${name} then values.${name} else null;
        in if isLeaf o then v else settingsOf o v)
      tree;

  # Unset options and empty sections are left out, so the product's own defaults apply.
  prune = value:
    if builtins.isAttrs value then
      let
        kept = builtins.filter (n: value.${n} != null) (builtins.attrNames value);
        pruned = builtins.listToAttrs (map (n: { name = n; value = prune value.${n}; }) kept);
        empty = builtins.filter (n: pruned.${n} == { }) (builtins.attrNames pruned);
      in
      builtins.removeAttrs pruned empty
    else value;

  # Keys in `values` that the tree does not know (the module system rejects these too).
  unknownKeys = tree: values: prefix:
    builtins.concatLists (map
      (name:
        if !(tree ? ${name}) then [ "${prefix}${name}" ]
        else if isLeaf tree.${name} then [ ]
        else unknownKeys tree.${name} values.${name} "${prefix}${name}.")
      (builtins.attrNames values));
in
{
  inherit isLeaf settingsOf prune unknownKeys;
  tree = builtins.fromJSON (builtins.readFile ./options.json);
  render = tree: values: prune (settingsOf tree values);
}
