#!/usr/bin/env node
// The kubectl plugin: kubectl runs any executable named kubectl-<name> on the PATH for `kubectl <name>`,
// passing the rest of the command line as is, so `kubectl petrel get canaries -n demo --context prod` is
// `petrel get canaries -n demo --context prod`, with the same kubeconfig rules as kubectl (--kubeconfig,
// else $KUBECONFIG, else ~/.kube/config; --context; -n, else the context's namespace).
await import('./petrel.js');
