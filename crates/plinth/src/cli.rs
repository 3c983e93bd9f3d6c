//! Command-line grammar (clap). Flags follow kubectl's habits: `--kubeconfig`, `--context`,
//! `-o/--output`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// plinth — an enterprise Kubernetes platform, as working software.
#[derive(Debug, Parser)]
#[command(name = "plinth", version, about, propagate_version = true)]
pub struct Cli {
    /// Cluster selection (as kubectl).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl-style cluster selection.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current-context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
}

impl ClusterArgs {
    /// As plinth-kube's options.
    pub fn options(&self) -> plinth_kube::ClientOptions {
        plinth_kube::ClientOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of reporting commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// Output format of commands that also print YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RichFormat {
    /// Aligned text for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
    /// YAML for programs and people.
    Yaml,
}

/// Output format of `plinth plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PlanFormat {
    /// Aligned text for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
    /// YAML for programs and people.
    Yaml,
    /// A self-contained HTML report (inline CSS and SVG, printable).
    Html,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Place pending pods of a cluster snapshot with the scheduling engine, explaining
    /// every placement and every pod left pending (exit 1 when some stay pending).
    Simulate(SimulateArgs),
    /// The live enterprise scheduler.
    Scheduler {
        /// What to do.
        #[command(subcommand)]
        command: SchedulerCommand,
    },
    /// Turn a Requirements document into an architecture recommendation: topology, node
    /// pools, backup, cost from a price sheet, timeline and risks (exit 2 on bad input).
    Plan(PlanArgs),
    /// Render a Platform description into a GitOps tree (namespaces, priority classes,
    /// quotas, budgets, autoscalers, RBAC, policies, zero-trust objects, monitoring,
    /// audit policy), atomically, plus the encryption configuration outside the tree.
    Render(RenderArgs),
    /// Cluster API fleet: ManagedCluster specs as Cluster API v1beta2 objects.
    Fleet {
        /// What to do.
        #[command(subcommand)]
        command: FleetCommand,
    },
    /// Server-side apply a directory of manifests as one labelled set: CRDs and namespaces
    /// first, everything else validated by the server before anything is written,
    /// optional pruning, and a summary of created / changed / unchanged / pruned.
    Apply(ApplyArgs),
    /// Check manifests offline against Pod Security and Gatekeeper-style policies, as
    /// admission would (exit 0 all allowed, 1 some denied, 2 bad input).
    Check(CheckArgs),
    /// Admission control: the webhook and the auditor.
    Guard {
        /// What to run.
        #[command(subcommand)]
        command: GuardCommand,
    },
    /// Zero trust: intent, compilation, verification, map, drift, posture, controller.
    Zt {
        /// What to do.
        #[command(subcommand)]
        command: ZtCommand,
    },
    /// Explain a decision against the live cluster.
    Explain {
        /// What to explain.
        #[command(subcommand)]
        command: ExplainCommand,
    },
    /// Measure plinth's engines (see docs/benchmarks.md).
    Bench {
        /// What to measure.
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Print plinth's version, the Kubernetes API it targets and, when a cluster is
    /// reachable, the server's version.
    Version {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// The main job: a platform description to a running, policed, observable platform.
    /// Without --kubeconfig/--context (or $KUBECONFIG) it starts the embedded control
    /// plane and runs plinth's components next to it as local processes; then renders and
    /// applies the platform, creates its example workloads and prints a report.
    Up(UpArgs),
    /// Stop what `plinth up` started: its local components and the embedded control plane.
    Down(DownArgs),
    /// Install plinth's in-cluster components (charts/plinth with its default values,
    /// without Helm) into plinth-system; `--render` prints them instead.
    Install(InstallArgs),
    /// A local development control plane (upstream etcd + kube-apiserver) for users
    /// without a cluster.
    Dev {
        /// What to do with it.
        #[command(subcommand)]
        command: DevCommand,
    },
}

/// `plinth up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// The platform: a directory with `platform.yaml` (and optionally `nodes.yaml` — Node
    /// objects for the embedded control plane, which has no kubelets — and
    /// `workloads.yaml`, the example workloads), or a Platform file.
    #[arg(value_name = "PLATFORM")]
    pub platform: PathBuf,
    /// Loopback port of the embedded control plane's API server.
    #[arg(long, default_value_t = 16443)]
    pub port: u16,
    /// How long to wait for the example workloads to be scheduled, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// Output format of the report.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
    /// Where the embedded control plane and the components keep their state.
    #[command(flatten)]
    pub state: StateArgs,
}

/// `plinth install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Print the objects instead of applying them.
    #[arg(long)]
    pub render: bool,
    /// `server`: have the API server validate everything without persisting it.
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "server")]
    pub dry_run: DryRun,
}

/// `plinth down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Where `plinth up` kept its state.
    #[command(flatten)]
    pub state: StateArgs,
}

/// `plinth dev ...`.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Build (first time only) and start the control plane in the background, install the
    /// upstream CRDs, and print how to use it. A second `up` reports the running one.
    Up {
        /// The API server's loopback port.
        #[arg(long, default_value_t = 16443)]
        port: u16,
        /// Do not install the upstream CRDs (Cluster API and its AWS provider).
        #[arg(long)]
        no_crds: bool,
        /// State directory.
        #[command(flatten)]
        state: StateArgs,
    },
    /// Stop the control plane and remove its state.
    Down {
        /// State directory.
        #[command(flatten)]
        state: StateArgs,
    },
    /// Report whether the control plane runs, its health and versions.
    Status {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
        /// State directory.
        #[command(flatten)]
        state: StateArgs,
    },
    /// Print the shell line that points kubectl at the control plane.
    Env {
        /// State directory.
        #[command(flatten)]
        state: StateArgs,
    },
    /// Build (or verify) the upstream binaries and fetch the upstream CRDs into the cache,
    /// without starting anything.
    Build,
}

/// Where `plinth dev` keeps its control plane.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// State directory (default: $PLINTH_STATE_DIR, else $XDG_STATE_HOME/plinth/dev, else
    /// ~/.local/state/plinth/dev).
    #[arg(long, value_name = "DIR", env = "PLINTH_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StateArgs {
    /// The state directory to use.
    pub fn dir(&self) -> PathBuf {
        if let Some(d) = &self.state_dir {
            return d.clone();
        }
        if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("plinth").join("dev");
        }
        let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
        home.join(".local").join("state").join("plinth").join("dev")
    }
}

/// `plinth simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Snapshot files or directories: Nodes, Pods, PriorityClasses,
    /// PodDisruptionBudgets, Namespaces and the profiles ConfigMap, as `kubectl get -o
    /// yaml` prints them (multi-document and `kind: List` accepted; `-` for stdin).
    #[arg(long = "snapshot", value_name = "PATH", required = true, num_args = 1..)]
    pub snapshot: Vec<PathBuf>,
    /// Workload profiles: the `advanced-scheduling-policies` ConfigMap or a bare
    /// `profiles:` document (default: the ConfigMap in the snapshot, else the built-in six).
    #[arg(long, value_name = "FILE")]
    pub profiles: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: RichFormat,
    /// Explain one pod (`NAMESPACE/NAME`): every node's verdict and score parts.
    #[arg(long, value_name = "NS/NAME")]
    pub explain: Option<String>,
    /// Plan capacity: how many nodes like the template Node in FILE pool POOL needs to
    /// place every pending pod (repeatable).
    #[arg(long, value_name = "POOL=FILE")]
    pub capacity: Vec<String>,
    /// Do not let pods preempt others.
    #[arg(long)]
    pub no_preemption: bool,
}

/// `plinth bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// plinth's scheduler and the upstream kube-scheduler side by side on one real
    /// control plane: synthetic nodes of the seed's pools, the same pending pods for
    /// each, at the given client QPS/burst settings.
    Live {
        /// Nodes.
        #[arg(long, default_value_t = 5000)]
        nodes: usize,
        /// Pods per run.
        #[arg(long, default_value_t = 10000)]
        pods: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Client QPS/burst settings to run (repeatable), e.g. `5000/5000`.
        #[arg(long = "qps", value_name = "QPS/BURST", default_values_t = ["5000/5000".to_owned(), "50/100".to_owned()])]
        qps: Vec<String>,
        /// Run plinth's scheduler with these composite score weights instead of the
        /// seed's (as `plinth bench scheduler --score-weights`), set through a policies
        /// ConfigMap.
        #[arg(long, value_name = "NAME=WEIGHT,...", value_parser = crate::cmd::bench::score_weights)]
        score_weights: Option<plinth_sched::config::ScoreWeights>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Differential correctness against kube-scheduler on standard constraints (taints,
    /// node affinity, resources): exit 1 when the two disagree.
    Differential {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// The guard webhook under open-loop load on loopback TLS (Pod Security restricted plus
    /// every shipped constraint), its in-process decision time, and its policy evaluation
    /// against the real `opa` on the same templates and inputs.
    Guard {
        /// Requests per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds of measured load (after 2 s of warm-up).
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Distinct admission requests in the corpus (sent round-robin).
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Corpus seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Skip the comparison with OPA (which builds the pinned `opa` on first use).
        #[arg(long)]
        no_opa: bool,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// The full NetworkPolicy connectivity map of a generated cluster from its YAML on
    /// disk, and single queries against the built index.
    Netpol {
        /// Pods.
        #[arg(long, default_value_t = 1000)]
        pods: usize,
        /// NetworkPolicies.
        #[arg(long, default_value_t = 1000)]
        policies: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Runs (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Skip the comparison with np-guard (which builds the pinned `k8snetpolicy` on
        /// first use).
        #[arg(long)]
        no_npguard: bool,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Scheduling decision throughput on a synthetic cluster of the seed's pools:
    /// every pending pod is scheduled (every feasible node filtered and scored) and
    /// assumed, one after another, highest priority first as the live queue pops them;
    /// the placement's CPU spread and preferred-node share are reported.
    Scheduler {
        /// Nodes in the synthetic cluster.
        #[arg(long, default_value_t = 5000)]
        nodes: usize,
        /// Pending pods to schedule.
        #[arg(long, default_value_t = 10000)]
        pods: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Composite score weights to try instead of the seed's, e.g.
        /// `resource=0.4,affinity=0.1,sla=0.2,load_balance=0.15` (names left out keep
        /// their default; the four are scaled to sum to 1).
        #[arg(long, value_name = "NAME=WEIGHT,...", value_parser = crate::cmd::bench::score_weights)]
        score_weights: Option<plinth_sched::config::ScoreWeights>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
}

/// `plinth scheduler ...`.
#[derive(Debug, Subcommand)]
pub enum SchedulerCommand {
    /// Run the scheduler against the cluster until SIGTERM (or, with leader election,
    /// until the lease is lost).
    Run(SchedulerRunArgs),
}

/// `plinth scheduler run`.
#[derive(Debug, Args)]
pub struct SchedulerRunArgs {
    /// Pods with this `spec.schedulerName` are ours.
    #[arg(long, default_value = "enterprise-scheduler")]
    pub scheduler_name: String,
    /// The policies ConfigMap to watch and hot-reload (`NAMESPACE/NAME`).
    #[arg(long, value_name = "NS/NAME")]
    pub profiles_configmap: Option<String>,
    /// Client-side queries per second (kube-scheduler's default is 50).
    #[arg(long, default_value_t = 50)]
    pub kube_api_qps: u32,
    /// Client-side burst (kube-scheduler's default is 100).
    #[arg(long, default_value_t = 100)]
    pub kube_api_burst: u32,
    /// Where to serve /metrics, /healthz and /readyz over HTTPS; `none` to serve nothing.
    #[arg(long, default_value = "127.0.0.1:10361")]
    pub metrics_addr: String,
    /// Serving certificate (PEM); without it an in-memory self-signed one is used.
    #[arg(long, value_name = "FILE", requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// Serving key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Run only while holding the leader lease.
    #[arg(long)]
    pub leader_elect: bool,
    /// Lease name.
    #[arg(long, default_value = "enterprise-scheduler")]
    pub leader_elect_lease_name: String,
    /// Lease namespace (default: the pod's namespace in a cluster, else kube-system).
    #[arg(long)]
    pub leader_elect_lease_namespace: Option<String>,
    /// Lease duration (`15s`, `500ms`).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub leader_elect_lease_duration: std::time::Duration,
    /// How long the leader tries to renew before it stops.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub leader_elect_renew_deadline: std::time::Duration,
    /// How often to try to acquire or renew.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub leader_elect_retry_period: std::time::Duration,
    /// This replica's identity (default: host name and process id).
    #[arg(long)]
    pub identity: Option<String>,
    /// Bindings in flight at most.
    #[arg(long, default_value_t = 64)]
    pub bind_parallelism: usize,
}

/// A duration such as `15s`, `500ms` or `2m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 15s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unit must be ms, s or m")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{s:?} must be positive"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// `plinth explain ...`.
#[derive(Debug, Subcommand)]
pub enum ExplainCommand {
    /// Every node's verdict and score parts for one pod, against the live cluster.
    Pod {
        /// The pod (`NAMESPACE/NAME`).
        pod: String,
        /// The policies ConfigMap to read profiles from (`NAMESPACE/NAME`).
        #[arg(
            long,
            value_name = "NS/NAME",
            default_value = "kube-system/advanced-scheduling-policies"
        )]
        profiles_configmap: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
}

/// Output format of `plinth check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum CheckFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// `{"results": [...]}` for programs.
    Json,
    /// JUnit XML for CI test reports.
    Junit,
    /// SARIF 2.1.0 for code-scanning UIs.
    Sarif,
}

/// Pod Security defaults and exemptions (as upstream's admission configuration).
#[derive(Debug, Clone, Args)]
pub struct PssArgs {
    /// Pod Security enforce level for namespaces without labels, `LEVEL[:VERSION]`.
    #[arg(
        long,
        value_name = "LEVEL[:VERSION]",
        default_value = "privileged:latest"
    )]
    pub pss_enforce: String,
    /// Pod Security audit level for namespaces without labels.
    #[arg(
        long,
        value_name = "LEVEL[:VERSION]",
        default_value = "privileged:latest"
    )]
    pub pss_audit: String,
    /// Pod Security warn level for namespaces without labels.
    #[arg(
        long,
        value_name = "LEVEL[:VERSION]",
        default_value = "privileged:latest"
    )]
    pub pss_warn: String,
    /// Namespaces exempt from Pod Security (repeatable).
    #[arg(long = "exempt-namespace", value_name = "NAME")]
    pub exempt_namespaces: Vec<String>,
    /// Users exempt from Pod Security (repeatable).
    #[arg(long = "exempt-user", value_name = "NAME")]
    pub exempt_users: Vec<String>,
    /// RuntimeClasses exempt from Pod Security (repeatable).
    #[arg(long = "exempt-runtime-class", value_name = "NAME")]
    pub exempt_runtime_classes: Vec<String>,
}

/// Where policies come from.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Files or directories of ConstraintTemplates and constraints (repeatable). Without
    /// it, templates and constraints are read from the cluster.
    #[arg(long = "policies", value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Do not load the templates shipped with plinth.
    #[arg(long)]
    pub no_builtin_templates: bool,
}

/// `plinth plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The requirements file (`kind: Requirements`, YAML or JSON; `-` for stdin).
    #[arg(value_name = "REQUIREMENTS")]
    pub requirements: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: PlanFormat,
    /// A price sheet (`kind: PriceSheet`) replacing the shipped AWS us-east-1 prices.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
}

/// `plinth check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest files or directories (YAML or JSON).
    #[arg(value_name = "PATH", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Pod Security level for every object, overriding namespace labels: `LEVEL[:VERSION]`.
    #[arg(long, value_name = "LEVEL[:VERSION]")]
    pub pss: Option<String>,
    /// ConstraintTemplates and constraints to apply (files or directories, repeatable).
    #[arg(long = "policies", value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Also apply plinth's shipped constraints (the seed's two and the library's).
    #[arg(long)]
    pub builtin_constraints: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: CheckFormat,
}

/// `plinth fleet ...`.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Print every Cluster API object of a ManagedCluster spec (Cluster, AWSCluster,
    /// KubeadmControlPlane, machine and bootstrap templates, MachineDeployments, add-ons);
    /// exit 2 with file:line on a bad spec.
    Render(FleetRenderArgs),
    /// Server-side apply every object of a ManagedCluster spec to the management cluster
    /// (the apply set `fleet-NAME`; a second run changes nothing), then watch the Cluster,
    /// its control plane and MachineDeployments until provisioned; exit 1 on timeout.
    Create(FleetCreateArgs),
    /// Every Cluster API cluster of the management cluster: tier, phase, version, control
    /// plane and workers ready/desired, age.
    List(FleetListArgs),
    /// Delete a cluster (Cluster API cascades to its machines), wait until it is gone, then
    /// delete the rest of its apply set (add-ons, autoscaler RBAC); idempotent.
    Delete(FleetDeleteArgs),
    /// Upgrade a cluster's Kubernetes version: control plane first, then each
    /// MachineDeployment in name order, each awaited; refuses downgrades, skipped minor
    /// versions and pools ahead of the control plane before changing anything; run again
    /// after an interruption and it continues from where the objects are.
    Upgrade(FleetUpgradeArgs),
    /// One cluster in depth: a condition tree of the Cluster, control plane, pools and
    /// machines; the monthly cost from its pools' instance types and counts; and
    /// recommendations computed from its spec.
    Describe(FleetDescribeArgs),
}

/// `plinth fleet describe`.
#[derive(Debug, Args)]
pub struct FleetDescribeArgs {
    /// The cluster's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The cluster's namespace in the management cluster.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// A price sheet to use instead of the one shipped with plinth.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// The newest Kubernetes version your platform supports, to judge the cluster's.
    #[arg(long, value_name = "VERSION")]
    pub latest_supported: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// `plinth fleet upgrade`.
#[derive(Debug, Args)]
pub struct FleetUpgradeArgs {
    /// The cluster's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The target version, `vMAJOR.MINOR.PATCH`.
    #[arg(long = "to", value_name = "VERSION")]
    pub to: String,
    /// The cluster's namespace in the management cluster.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for each rollout, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub timeout: u64,
}

/// `plinth fleet create`.
#[derive(Debug, Args)]
pub struct FleetCreateArgs {
    /// The ManagedCluster file (one or more clusters).
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// Namespace of the objects in the management cluster.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The cluster autoscaler's image (default: the release matching the cluster's
    /// Kubernetes minor).
    #[arg(long, value_name = "IMAGE")]
    pub autoscaler_image: Option<String>,
    /// Directory with each workload add-on's manifests as `NAME.yaml` (the pinned
    /// release YAML the platform team vendors); every add-on the spec names must have
    /// one. Without it, workload add-ons are not installed (a warning says which).
    #[arg(long, value_name = "DIR")]
    pub addons_dir: Option<PathBuf>,
    /// How long to wait for provisioning, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub timeout: u64,
    /// Apply only; do not wait for provisioning.
    #[arg(long)]
    pub no_wait: bool,
    /// Output format of the apply summary.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// `plinth fleet list`.
#[derive(Debug, Args)]
pub struct FleetListArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// `plinth fleet delete`.
#[derive(Debug, Args)]
pub struct FleetDeleteArgs {
    /// The cluster's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The cluster's namespace in the management cluster.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// How long to wait for the Cluster to be gone, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub timeout: u64,
}

/// `plinth fleet render`.
#[derive(Debug, Args)]
pub struct FleetRenderArgs {
    /// The ManagedCluster file (one or more clusters).
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// Namespace of the objects in the management cluster.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The cluster autoscaler's image (default: the release matching the cluster's
    /// Kubernetes minor).
    #[arg(long, value_name = "IMAGE")]
    pub autoscaler_image: Option<String>,
    /// Directory with each workload add-on's manifests as `NAME.yaml` (the pinned
    /// release YAML the platform team vendors); every add-on the spec names must have
    /// one. Without it, workload add-ons are not installed (a warning says which).
    #[arg(long, value_name = "DIR")]
    pub addons_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: FleetRenderFormat,
}

/// Output format of `plinth fleet render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FleetRenderFormat {
    /// YAML documents separated by `---`.
    #[default]
    Yaml,
    /// One `List` object.
    Json,
}

/// `plinth render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The Platform file.
    #[arg(value_name = "PLATFORM")]
    pub platform: PathBuf,
    /// Output directory (replaced as a whole when the render succeeds).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where the EncryptionConfiguration goes (default: DIR.secrets next to DIR); never
    /// inside the tree.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
}

/// `--dry-run` of `plinth apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DryRun {
    /// Apply for real.
    #[default]
    None,
    /// Read, order and list the objects; no server involved.
    Client,
    /// The server validates and defaults every object; nothing is persisted.
    Server,
}

/// `plinth apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest files or directories (Kustomization files are skipped).
    #[arg(value_name = "PATH", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// The set's name, the value of the `plinth.dev/apply-set` label (default: the first
    /// path's file or directory name).
    #[arg(long, value_name = "NAME")]
    pub set: Option<String>,
    /// Delete objects of the set that the manifests no longer contain.
    #[arg(long)]
    pub prune: bool,
    /// Dry run.
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: DryRun,
    /// Field manager of the writes.
    #[arg(long, default_value = "plinth")]
    pub field_manager: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// `plinth zt ...`.
#[derive(Debug, Subcommand)]
pub enum ZtCommand {
    /// May one pod (or address) reach another on a port? Decided with exact
    /// NetworkPolicy semantics over the given manifests, with the policies and rules that
    /// allowed or blocked it (exit 0 allowed, 1 denied, 2 bad input).
    Verify(ZtVerifyArgs),
    /// Compile a zero-trust model into NetworkPolicies, Istio PeerAuthentication and
    /// AuthorizationPolicies and cert-manager Certificates, one file per identity plus a
    /// kustomization.yaml.
    Compile(ZtCompileArgs),
    /// Print the ZeroTrustModel CustomResourceDefinition (generated from plinth's types).
    Crd,
    /// The connectivity map of all pods, grouped by workload, as a table, JSON, Graphviz
    /// DOT or SVG.
    Map(ZtMapArgs),
    /// Connections the NetworkPolicies allow that intent does not (over-permissive), and
    /// connections intent requires that they block (exit 0 none, 1 drift, 2 bad input).
    Drift(ZtDriftArgs),
    /// Zero-trust coverage computed from the real objects: isolation, STRICT mTLS,
    /// certificates, enforced matrix entries.
    Posture(ZtPostureArgs),
    /// Reconcile ZeroTrustModels in the cluster until SIGTERM: apply their compiled
    /// objects, prune what intent no longer produces, repair hand edits, report status.
    Controller(ZtControllerArgs),
}

/// Where the enforced state comes from.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("state").required(true).multiple(false))]
pub struct ZtStateArgs {
    /// Manifest files or directories (Namespaces, Pods, NetworkPolicies, and for posture
    /// PeerAuthentications and Certificates).
    #[arg(long = "manifests", value_name = "PATH", num_args = 1.., group = "state")]
    pub manifests: Vec<PathBuf>,
    /// The live cluster.
    #[arg(long, group = "state")]
    pub cluster: bool,
    /// How ipBlock peers treat pod IPs.
    #[arg(long, value_enum, default_value_t)]
    pub ip_block_mode: IpBlockModeArg,
}

/// Output format of `zt map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum MapFormat {
    /// Aligned text.
    #[default]
    Table,
    /// JSON.
    Json,
    /// Graphviz DOT.
    Dot,
    /// SVG rendered from the DOT graph.
    Svg,
}

/// `plinth zt map`.
#[derive(Debug, Args)]
pub struct ZtMapArgs {
    /// The enforced state.
    #[command(flatten)]
    pub state: ZtStateArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: MapFormat,
}

/// `plinth zt drift`.
#[derive(Debug, Args)]
pub struct ZtDriftArgs {
    /// The model file.
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// The enforced state.
    #[command(flatten)]
    pub state: ZtStateArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// `plinth zt posture`.
#[derive(Debug, Args)]
pub struct ZtPostureArgs {
    /// The enforced state.
    #[command(flatten)]
    pub state: ZtStateArgs,
    /// A model, for certificate and matrix coverage.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Istio's root namespace (mesh-wide PeerAuthentications).
    #[arg(long, default_value = "istio-system")]
    pub istio_root_namespace: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// `plinth zt controller`.
#[derive(Debug, Args)]
pub struct ZtControllerArgs {
    /// Reconcile every model at least this often (seconds), events or not.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub resync_seconds: u64,
    /// Where to serve /metrics, /healthz and /readyz over HTTPS; `none` to serve nothing.
    #[arg(long, default_value = "127.0.0.1:10362")]
    pub metrics_addr: String,
    /// Serving certificate (PEM); without it an in-memory self-signed one is used.
    #[arg(long, value_name = "FILE", requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// Serving key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
}

/// `plinth zt compile`.
#[derive(Debug, Args)]
pub struct ZtCompileArgs {
    /// The model file (a ZeroTrustModel document).
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// Output directory (created; files plinth compiles are replaced, others are left).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// How `ipBlock` peers treat pod IPs (network plugins differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum IpBlockModeArg {
    /// ipBlocks match pod IPs too (the upstream e2e expectation).
    #[default]
    PodIps,
    /// ipBlocks match only non-pod addresses.
    ExternalOnly,
}

/// `plinth zt verify`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).multiple(false))]
pub struct ZtVerifyArgs {
    /// Decide from intent: a model file (trust levels, zone rules, matrix).
    #[arg(long, value_name = "MODEL", group = "source")]
    pub model: Option<PathBuf>,
    /// Decide from manifest files or directories: Namespaces (labels), Pods (labels,
    /// container ports, optional status.podIP) and NetworkPolicies.
    #[arg(long = "manifests", value_name = "PATH", num_args = 1.., group = "source")]
    pub manifests: Vec<PathBuf>,
    /// Decide from the NetworkPolicies, pods and namespaces of the live cluster.
    #[arg(long, group = "source")]
    pub cluster: bool,
    /// The source: `NAMESPACE/POD` or an IP address (with --model: an identity name,
    /// `NAMESPACE/NAME`, `NAMESPACE/SERVICEACCOUNT` or an IP address).
    #[arg(long, value_name = "NS/POD|IP")]
    pub from: String,
    /// The destination, as --from.
    #[arg(long, value_name = "NS/POD|IP")]
    pub to: String,
    /// The destination port, a number or a container port name, with an optional
    /// protocol: `8080`, `8080/UDP`, `http/TCP`.
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub port: String,
    /// How ipBlock peers treat pod IPs.
    #[arg(long, value_enum, default_value_t)]
    pub ip_block_mode: IpBlockModeArg,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// `plinth guard ...`.
#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// The admission webhook (HTTPS, AdmissionReview v1) until SIGTERM.
    Serve(GuardServeArgs),
    /// Evaluate what already exists in the cluster and publish PolicyReports.
    Audit(GuardAuditArgs),
}

/// `plinth guard serve`.
#[derive(Debug, Args)]
pub struct GuardServeArgs {
    /// Listen address.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub addr: String,
    /// PEM certificate chain (re-read when it changes).
    #[arg(long, value_name = "FILE")]
    pub tls_cert_file: PathBuf,
    /// PEM private key (re-read when it changes).
    #[arg(long, value_name = "FILE")]
    pub tls_private_key_file: PathBuf,
    /// Pod Security configuration.
    #[command(flatten)]
    pub pss: PssArgs,
    /// Policy source.
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// Create constraint CRDs for cluster templates: auto (when Gatekeeper is absent),
    /// always or never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub manage_constraint_crds: String,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    pub max_request_bytes: usize,
}

/// `plinth guard audit`.
#[derive(Debug, Args)]
pub struct GuardAuditArgs {
    /// Pod Security configuration.
    #[command(flatten)]
    pub pss: PssArgs,
    /// Policy source.
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// Repeat every interval (e.g. 60s) until SIGTERM; without it, audit once.
    #[arg(long, value_parser = parse_duration)]
    pub interval: Option<std::time::Duration>,
    /// Objects per list request.
    #[arg(long, default_value_t = 500)]
    pub chunk_size: u32,
    /// Do not write PolicyReport/ClusterPolicyReport objects.
    #[arg(long)]
    pub no_reports: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}
