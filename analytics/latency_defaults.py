"""Latency SLOs assumed for a deployment that no SLO file covers, by deployment kind.

Shared by capacity (throughput under the SLO) and goodput (GPU page), so every page judges a
deployment alike. LLMs: first token within 2 s and streaming faster than 10 tokens/s;
embeddings and classic models are judged on end-to-end latency. All thresholds are bucket
edges, so counts from the rollup are exact.
"""

# Latency SLOs used when the caller gives none for a deployment, by deployment kind.
# Thresholds are bucket edges (exact from the rollup); targets are ratios.
DEFAULT_SLOS = {
    "chat": {"ttft_ms": 2000.0, "tpot_ms": 100.0, "target": 0.95},
    "code": {"ttft_ms": 2000.0, "tpot_ms": 100.0, "target": 0.95},
    "embedding": {"e2e_ms": 250.0, "target": 0.95},
    "classic": {"e2e_ms": 100.0, "target": 0.95},
}
