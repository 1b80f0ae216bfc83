"""The demo fleet: deployments, GPU types and the incidents injected into the demo telemetry.

Kept apart from the generator so that tests and docs can name the incidents and deployments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class GpuType:
    """A GPU model with its memory, power envelope, list price and peak dense BF16 FLOP/s."""

    name: str
    fb_total_mib: float
    idle_w: float
    tdp_w: float
    cost_per_gpu_hour: float
    peak_tflops: float  # dense BF16, vendor datasheets (H100 SXM 989, A100 312, L4 121)


GPU_TYPES = {
    g.name: g
    for g in (
        GpuType("H100-80GB", 81559, 70, 700, 4.50, 989.0),
        GpuType("A100-80GB", 81920, 55, 400, 2.90, 312.0),
        GpuType("L4-24GB", 23034, 16, 72, 0.80, 121.0),
    )
}

REGIONS = ("us-east", "eu-west", "ap-south")


@dataclass(frozen=True)
class DemoDeployment:
    """One deployment of the demo fleet and the shape of its traffic.

    traffic is the deployment's relative share of the fleet's daily-peak request rate (the demo's
    --requests sets the absolute volume); peak_util is the fraction of its capacity that the
    first week's daily peak uses (capacity follows from it, so latency and GPU activity stay
    consistent with load at any volume); growth_per_day is a compound daily growth rate.
    """

    deployment: str
    model: str
    kind: str  # chat, code, embedding, classic
    params_b: float | None
    region: str
    gpu_type: str
    gpus_per_replica: int
    replicas: int
    traffic: float
    peak_util: float
    ttft_ms: float  # median at low load
    tpot_ms: float  # median at low load
    output_tokens: float  # median
    input_tokens: float  # median
    growth_per_day: float = 0.0
    owner: str = "inference-platform"

    @property
    def gpus(self) -> int:
        return self.gpus_per_replica * self.replicas


FLEET = (
    DemoDeployment("chat-llama3-70b-use", "llama-3-70b-instruct", "chat", 70, "us-east", "H100-80GB", 4, 6, 2.4, 0.62, 320, 28, 280, 900, growth_per_day=0.005),
    DemoDeployment("chat-llama3-70b-euw", "llama-3-70b-instruct", "chat", 70, "eu-west", "H100-80GB", 4, 4, 1.3, 0.55, 330, 28, 260, 850),
    DemoDeployment("chat-llama3-8b-use", "llama-3-8b-instruct", "chat", 8, "us-east", "A100-80GB", 1, 8, 3.2, 0.6, 140, 14, 240, 700),
    DemoDeployment("chat-llama3-8b-euw", "llama-3-8b-instruct", "chat", 8, "eu-west", "A100-80GB", 1, 6, 2.0, 0.55, 150, 14, 230, 700),
    DemoDeployment("chat-llama3-8b-aps", "llama-3-8b-instruct", "chat", 8, "ap-south", "L4-24GB", 1, 6, 0.9, 0.5, 210, 26, 220, 650, growth_per_day=0.02, owner="apac-serving"),
    DemoDeployment("chat-mistral-7b-aps", "mistral-7b-instruct", "chat", 7, "ap-south", "L4-24GB", 1, 4, 0.7, 0.6, 200, 25, 200, 600, owner="apac-serving"),
    DemoDeployment("code-qwen-32b-use", "qwen2.5-coder-32b", "code", 32, "us-east", "H100-80GB", 2, 4, 2.0, 0.6, 260, 20, 120, 2200, owner="devtools"),
    DemoDeployment("code-qwen-32b-euw", "qwen2.5-coder-32b", "code", 32, "eu-west", "H100-80GB", 2, 2, 0.9, 0.55, 270, 20, 120, 2100, owner="devtools"),
    DemoDeployment("code-qwen-7b-use", "qwen2.5-coder-7b", "code", 7, "us-east", "A100-80GB", 1, 6, 3.0, 0.6, 110, 11, 60, 1800, owner="devtools"),
    DemoDeployment("code-qwen-7b-euw", "qwen2.5-coder-7b", "code", 7, "eu-west", "A100-80GB", 1, 8, 1.0, 0.12, 110, 11, 60, 1700, owner="devtools"),
    DemoDeployment("embed-bge-large-use", "bge-large-en-v1.5", "embedding", 0.335, "us-east", "L4-24GB", 1, 4, 6.0, 0.5, 0, 0, 0, 300, owner="search"),
    DemoDeployment("embed-bge-large-euw", "bge-large-en-v1.5", "embedding", 0.335, "eu-west", "L4-24GB", 1, 2, 2.5, 0.45, 0, 0, 0, 300, owner="search"),
    DemoDeployment("fraud-xgb-use", "fraud-gbdt", "classic", None, "us-east", "L4-24GB", 1, 2, 3.5, 0.4, 0, 0, 0, 0, owner="risk"),
    DemoDeployment("chat-llama3-70b-aps", "llama-3-70b-instruct", "chat", 70, "ap-south", "H100-80GB", 4, 2, 0.6, 0.5, 340, 29, 250, 800, owner="apac-serving"),
    DemoDeployment("chat-mistral-7b-use", "mistral-7b-instruct", "chat", 7, "us-east", "A100-80GB", 1, 4, 1.2, 0.55, 150, 13, 200, 600),
    DemoDeployment("code-qwen-32b-aps", "qwen2.5-coder-32b", "code", 32, "ap-south", "H100-80GB", 2, 2, 0.5, 0.5, 280, 21, 110, 2000, owner="devtools"),
    DemoDeployment("embed-bge-large-aps", "bge-large-en-v1.5", "embedding", 0.335, "ap-south", "L4-24GB", 1, 2, 1.5, 0.4, 0, 0, 0, 300, owner="search"),
    DemoDeployment("rerank-bge-base-use", "bge-reranker-base", "embedding", 0.278, "us-east", "L4-24GB", 1, 2, 2.0, 0.45, 0, 0, 0, 450, owner="search"),
    DemoDeployment("fraud-xgb-euw", "fraud-gbdt", "classic", None, "eu-west", "L4-24GB", 1, 2, 1.8, 0.35, 0, 0, 0, 0, owner="risk"),
    DemoDeployment("summarize-mixtral-aps", "mixtral-8x7b-instruct", "chat", 46.7, "ap-south", "A100-80GB", 2, 1, 0.0004, 0.3, 400, 30, 350, 3000, owner="docs-team"),
)

OVER_PROVISIONED = "code-qwen-7b-euw"
LOW_TRAFFIC = "summarize-mixtral-aps"
GROWING = "chat-llama3-8b-aps"
NO_PROFILING = "fraud-xgb-use"  # DCGM profiling fields left disabled, as in dcgm-exporter's default


@dataclass(frozen=True)
class Incident:
    """An incident injected into the demo, placed relative to the end of the demo data."""

    name: str
    kind: str  # latency_regression, error_burst, region_outage, memory_pressure
    deployments: tuple[str, ...]
    starts_before_end: timedelta
    duration: timedelta
    description: str


INCIDENTS = (
    Incident(
        "v2 rollout latency regression",
        "latency_regression",
        ("chat-llama3-8b-use",),
        timedelta(days=9, hours=14),
        timedelta(hours=16),
        "model_version v2 rolled out; TTFT x2.5 and TPOT x1.6 until rollback to v1 16h later",
    ),
    Incident(
        "code-qwen-32b error burst",
        "error_burst",
        ("code-qwen-32b-use",),
        timedelta(days=5, hours=10),
        timedelta(minutes=45),
        "a bad config push: 30% of requests fail with errors for 45 minutes",
    ),
    Incident(
        "eu-west region outage",
        "region_outage",
        tuple(d.deployment for d in FLEET if d.region == "eu-west"),
        timedelta(days=12, hours=21),
        timedelta(minutes=40),
        "eu-west load balancer outage: 85% of requests fail, GPU metrics stop being collected",
    ),
    Incident(
        "mistral-7b GPU memory pressure",
        "memory_pressure",
        ("chat-mistral-7b-aps",),
        timedelta(days=3, hours=16),
        timedelta(hours=6),
        "KV-cache growth fills GPU memory to ~98%: preemptions, TTFT x3 and 10% timeouts",
    ),
)
