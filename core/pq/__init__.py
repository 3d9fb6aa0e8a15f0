"""Product quantization: one-dimensional quantizers (`scalar`), PQ codebooks, codes and
asymmetric search (`product`), and the explorer's figures and tables (`view`).

`core.pq.evaluate` measures them (error, size, recall@10, time); `core.pq.cli` is their command
line, `dlstudio quantize`.
"""
