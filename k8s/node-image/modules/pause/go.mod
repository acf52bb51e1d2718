// The pod sandbox container: holds the pod's namespaces, reaps orphans, exits on SIGINT/SIGTERM.
module ai-hosting-labs/node-image/pause

go 1.24.0
