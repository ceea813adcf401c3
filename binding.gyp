{
  "targets": [
    {
      "target_name": "udp_gso",
      "sources": ["native/udp-gso.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
