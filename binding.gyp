{
  "targets": [
    {
      "target_name": "udp_gso",
      "sources": ["native/udp-gso.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "icmp6_ra",
      "sources": ["native/icmp6-ra.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "sendfile",
      "sources": ["native/sendfile.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
