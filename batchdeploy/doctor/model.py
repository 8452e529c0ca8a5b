"""What the doctor knows (`Facts`, filled by `collect`) and what it says (`Finding`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Finding:
    """One problem: `what` is wrong, `where` (an ARN or id), the one change that fixes it.
    `never`: waiting cannot make this resolve (for the compute environment `ce`, when set)."""

    check: str
    what: str
    where: str
    fix: str
    never: bool = False
    ce: str | None = None  # the compute environment's ARN, when the finding is about one

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Shape:
    """What the job asks for: vCPUs, memory (MiB), GPUs, and the platform it was defined for."""

    vcpus: float = 1.0
    memory: int = 0
    gpus: int = 0
    platform: str = "EC2"  # EC2 or FARGATE (the job definition's platformCapabilities)

    def key(self) -> str:
        return f"{self.platform}:{self.vcpus:g}:{self.memory}:{self.gpus}"

    def text(self) -> str:
        gpus = f", {self.gpus} GPU" if self.gpus else ""
        return f"{self.vcpus:g} vCPU, {self.memory} MiB{gpus}"


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory: int  # MiB
    gpus: int = 0


@dataclass
class Network:
    """The subnets compute environments use, their VPCs' route tables and VPC endpoints (EC2's answers)."""

    subnets: dict[str, dict] = field(default_factory=dict)  # subnet id -> DescribeSubnets record
    route_tables: dict[str, list[dict]] = field(default_factory=dict)  # vpc id -> its route tables
    endpoints: dict[str, list[dict]] = field(default_factory=dict)  # vpc id -> its VPC endpoints


@dataclass
class Facts:
    """Everything described for one diagnosis. None/absent means "not looked at"; the `missing`
    sets hold what AWS said does not exist; `unchecked` says what could not be looked at, and why."""

    region: str = "us-east-1"
    job: dict | None = None
    job_definition: dict | None = None
    queue: dict | None = None
    ces: list[dict] = field(default_factory=list)
    shape: Shape | None = None
    instance_types: dict[str, InstanceType] = field(default_factory=dict)  # name -> its data
    used_vcpus: dict[str, float] = field(default_factory=dict)  # CE arn -> vCPUs of jobs RUNNING/STARTING near it
    network: Network = field(default_factory=Network)
    profiles: dict[str, dict | None] = field(default_factory=dict)  # instance profile ref -> record (None: missing)
    roles: dict[str, dict | None] = field(default_factory=dict)  # role arn -> {"policies": [...]} (None: missing)
    image: str | None = None
    image_found: bool | None = None  # None: not an ECR image, or not looked at
    unchecked: list[str] = field(default_factory=list)
