"""The network side of a running node: peer API bodies and authentication, the peer
service, transports, gossip and witnessing, the daemon and its local API."""
