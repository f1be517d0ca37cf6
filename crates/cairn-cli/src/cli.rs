//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Cairn: a multi-model database.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about)]
pub struct Cli {
    /// Database folder [default: ./cairn-data, or `data_dir` from `serve --config`].
    #[arg(long, global = true, env = "CAIRN_DATA")]
    pub data: Option<PathBuf>,
    /// Storage mode: persistent, memory-first, hybrid or memory-only. Defaults to the mode the
    /// database was last opened with, or persistent for a new one.
    #[arg(long, global = true, env = "CAIRN_MODE", value_enum)]
    pub mode: Option<ModeArg>,
    /// memory-first: milliseconds between background flushes (the loss window) [default: 1000].
    #[arg(long, global = true)]
    pub flush_interval_ms: Option<u64>,
    /// hybrid: page-cache budget in MiB [default: 256].
    #[arg(long, global = true)]
    pub memory_budget_mb: Option<usize>,
    /// Preset for the database: `speed` (memory-first, no compression), `space` (zstd level 9
    /// with trained dictionaries) or `security` (persistent, encrypted: needs a key). Explicit
    /// `--mode` and `--compression` win over the preset.
    #[arg(long, global = true, env = "CAIRN_PROFILE", value_enum)]
    pub profile: Option<Profile>,
    /// Document compression: `off`, or a zstd level (1-22) used with trained dictionaries.
    /// Default: 3 (or the profile's).
    #[arg(long, global = true, value_parser = CompressionArg::parse)]
    pub compression: Option<CompressionArg>,
    /// Key file of an encrypted database: 32 raw bytes, or 64 hex digits. Without it, the
    /// passphrase in the environment variable CAIRN_PASSPHRASE is used if set. A new database
    /// opened with a key is created encrypted.
    #[arg(long, global = true, env = "CAIRN_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The database folder: `--data`, else `./cairn-data`. (Flags are optional so that
    /// `cairn serve` can tell an explicit flag from its configuration file's setting.)
    pub fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// The database folder when `--data` is not given.
pub const DEFAULT_DATA_DIR: &str = "./cairn-data";

/// Default memory-first flush interval in milliseconds.
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 1000;

/// Default hybrid page-cache budget in MiB.
pub const DEFAULT_MEMORY_BUDGET_MB: usize = 256;

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list or drop the server's users, or reset a password (run with the server stopped).
    User {
        /// What to do.
        #[command(subcommand)]
        action: UserAction,
    },
    /// Create, drop, list or rename collections.
    Collection {
        /// The collection operation.
        #[command(subcommand)]
        action: CollectionAction,
    },
    /// Insert one document (JSON argument) or JSON lines from standard input; prints each id
    /// once its document is committed.
    Insert {
        /// Target collection.
        collection: String,
        /// The document; omit to read JSON lines from standard input.
        json: Option<String>,
        /// Documents per transaction when reading standard input.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Create the collection if it does not exist (as MongoDB does on first insert).
        #[arg(long)]
        create: bool,
    },
    /// Print a document.
    Get {
        /// Collection.
        collection: String,
        /// Document id (UUID, integer, or string; quote a numeric string as "\"123\"").
        id: String,
        /// Read the document as it was right after this commit sequence number, or at this
        /// RFC 3339 time (within change-log retention).
        #[arg(long = "as-of")]
        as_of: Option<String>,
    },
    /// Apply update operators ($set, $unset, $inc, $push, $pull, $addToSet, $rename, $mul, $min, $max, $currentDate) to a document.
    Update {
        /// Collection.
        collection: String,
        /// Document id.
        id: String,
        /// The patch, e.g. '{"$set": {"a.b": 1}}'.
        patch: String,
    },
    /// Delete a document.
    Delete {
        /// Collection.
        collection: String,
        /// Document id.
        id: String,
    },
    /// Import a JSON-lines file or a JSON array of documents (MongoDB exports too).
    Import(crate::commands::transfer::ImportArgs),
    /// Export a collection as JSON lines (to a file, or standard output).
    Export {
        /// Collection.
        collection: String,
        /// Output file; standard output when omitted.
        file: Option<PathBuf>,
        /// Output format: Cairn's extended JSON, MongoDB relaxed Extended JSON v2, or CSV.
        #[arg(long, value_enum, default_value_t = crate::commands::transfer::Format::Jsonl)]
        format: crate::commands::transfer::Format,
        /// CSV field separator (one character, e.g. `;` or `\t`).
        #[arg(long, value_parser = crate::commands::transfer::parse_delimiter, default_value = ",")]
        delimiter: u8,
    },
    /// Per-collection documents and bytes, and the storage mode; with `--queries --server
    /// URL`, the query statistics of a running `cairn serve` instead.
    Stats(StatsArgs),
    /// Print change-log entries after a sequence number, as JSON lines.
    Changes {
        /// Print changes committed after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// About this many changes, as whole commits: a commit is never split, so the last
        /// one may take the output past the limit. Page on with `--after` the last `seq`.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Which collections hold a document with this id: the routing index, and a lookup by
    /// primary key in each collection created with `--no-routing` (named on stderr).
    Locate {
        /// Document id.
        id: String,
    },
    /// Verify the whole database: storage checksums (and every encrypted block), that every
    /// record and change decodes, routing entries, change-log continuity. Exits non-zero on any
    /// finding.
    Check,
    /// Back up the database into a folder while it keeps serving writes, or verify a backup.
    Backup(BackupArgs),
    /// Restore a backup into a new database folder, whole or up to a point in time.
    Restore {
        /// The backup folder.
        src: PathBuf,
        /// The new database folder (must not exist).
        #[arg(long)]
        to: PathBuf,
        /// Stop at this commit: a sequence number, or an RFC 3339 time
        /// (e.g. 2025-01-31T12:00:00Z). Default: everything in the backup.
        #[arg(long)]
        at: Option<String>,
    },
    /// Rebuild the database, or one collection, from its change log into a new database
    /// folder, up to a point in time. Needs the whole log (retention must not have trimmed
    /// it; restore a backup otherwise). An encrypted database replays encrypted, under the
    /// same key.
    Replay {
        /// The new database folder (must not exist).
        #[arg(long)]
        to: PathBuf,
        /// Stop at this commit: a sequence number, or an RFC 3339 time. Default: the latest.
        #[arg(long)]
        at: Option<String>,
        /// Replay only this collection's changes.
        #[arg(long)]
        collection: Option<String>,
    },
    /// Rewrite the data file to give free space back to the file system (database closed).
    Compact,
    /// Change the key of an encrypted database: the current key comes from the usual flags,
    /// the new one from --new-key-file or CAIRN_NEW_PASSPHRASE. By default only the wrapping
    /// of the data key changes (instant); --reencrypt also re-encrypts every block under a new
    /// data key (and finishes an interrupted re-encryption).
    Rekey {
        /// The new key file (32 raw bytes or 64 hex digits).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
        /// Re-encrypt the whole data file under a fresh data key, not just rewrap it; the
        /// new key is optional then (default: keep the current one).
        #[arg(long)]
        reencrypt: bool,
        /// Blocks (4 KiB) re-encrypted per step while writers wait; 0 = the default (1,024).
        #[arg(long, default_value_t = 0, hide = true)]
        chunk_blocks: u64,
    },
    /// An interactive shell: type any command above without `cairn` and the global flags.
    Shell,
    /// SQL on the database: an interactive shell (statements end with `;`), or one-shot with
    /// `-c`. Collections are tables; see the README's SQL section.
    Sql {
        /// Run these statements, print their results and exit.
        #[arg(short = 'c', long = "command")]
        command: Option<String>,
        /// Run them on the SQL port of a running `cairn serve` instead (its `--pg-listen`
        /// address, `HOST:PORT` or `postgres://HOST:PORT`), logged in as `--user` with the
        /// password in CAIRN_PASSWORD (SCRAM-SHA-256; asked for at a terminal if unset).
        #[arg(long, value_name = "ADDRESS")]
        server: Option<String>,
        /// User for `--server`.
        #[arg(long, env = "CAIRN_USER", default_value = "root", requires = "server")]
        user: String,
    },
    /// Find documents matching a filter; prints JSON lines (and, when more pages exist, the
    /// cursor for the next page on standard error).
    Query {
        /// Collection.
        collection: String,
        /// The filter, e.g. '{"age": {"$gte": 18}}' ('{}' for all).
        filter: String,
        /// Sort, e.g. '{"age": -1, "name": 1}'.
        #[arg(long)]
        sort: Option<String>,
        /// At most this many documents.
        #[arg(long)]
        limit: Option<usize>,
        /// Skip this many matching documents first.
        #[arg(long, default_value_t = 0)]
        skip: usize,
        /// Projection, e.g. '{"name": 1, "address.city": 1}'.
        #[arg(long)]
        project: Option<String>,
        /// Continue after this cursor (printed by a previous page).
        #[arg(long)]
        after: Option<String>,
        /// Query the collection as it was right after this commit sequence number, or at
        /// this RFC 3339 time (by scan; no cursor: use --skip and --limit).
        #[arg(long = "as-of")]
        as_of: Option<String>,
    },
    /// Walk edge collections breadth first from start vertices; prints JSON lines
    /// {"vertex", "depth", "edge"?, "path"?}.
    Traverse(crate::commands::graph::TraverseArgs),
    /// The shortest path between two vertices (fewest edges, or least total of a numeric edge
    /// field with --weight); prints {"vertices", "edges", "weight"}.
    Path(crate::commands::graph::PathArgs),
    /// Time-series collections: append points, read ranges, downsample, latest points,
    /// trajectories, deletes and retention (create one with `collection create --timeseries`).
    Series {
        /// The time-series operation.
        #[command(subcommand)]
        action: crate::commands::series::SeriesAction,
    },
    /// Count documents matching a filter.
    Count {
        /// Collection.
        collection: String,
        /// The filter ('{}' for all).
        filter: String,
        /// Count as of this commit sequence number or RFC 3339 time.
        #[arg(long = "as-of")]
        as_of: Option<String>,
    },
    /// Show how a query would run: the chosen plan, the alternatives with their estimated
    /// costs, and what running it examined.
    Explain {
        /// Collection.
        collection: String,
        /// The filter.
        filter: String,
        /// Sort, as for `query`.
        #[arg(long)]
        sort: Option<String>,
        /// Limit, as for `query`.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Run an aggregation pipeline (a JSON array of stages); prints JSON lines.
    Aggregate {
        /// Collection.
        collection: String,
        /// The pipeline, e.g. '[{"$group": {"_id": "$city", "n": {"$count": {}}}}]'.
        pipeline: String,
        /// Print how it ran instead of the results: the source query's plan and, per
        /// $lookup/$graphLookup stage, the plans its queries used and their counters.
        #[arg(long)]
        explain: bool,
    },
    /// Apply update operators to every document matching a filter, atomically (all change or
    /// none); prints {"matched", "changed", "dry_run", "seq"} as JSON.
    UpdateMany {
        /// Collection.
        collection: String,
        /// Which documents, e.g. '{"state": "waiting"}' ('{}' for all).
        #[arg(long)]
        filter: String,
        /// The patch, e.g. '{"$set": {"state": "queued"}}'.
        #[arg(long)]
        patch: String,
        /// Report what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Fail, writing nothing, if more documents match [default and maximum: 100000].
        #[arg(long)]
        max_documents: Option<usize>,
    },
    /// Delete every document matching a filter, atomically; prints {"matched", "changed",
    /// "dry_run", "seq"} as JSON.
    DeleteMany {
        /// Collection.
        collection: String,
        /// Which documents ('{}' for all).
        #[arg(long)]
        filter: String,
        /// Report what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Fail, deleting nothing, if more documents match [default and maximum: 100000].
        #[arg(long)]
        max_documents: Option<usize>,
    },
    /// Create, drop or list secondary and spatial indexes.
    Index {
        /// The index operation.
        #[command(subcommand)]
        action: IndexAction,
    },
    /// Define, list or remove external sources (PostgreSQL, SQLite, CSV, Parquet, JSON),
    /// queried in SQL as `source.schema.table`.
    Source {
        /// The source operation.
        #[command(subcommand)]
        action: SourceAction,
    },
    /// Add, drop or list commit-time invariants (conserved sums, bounds, group bounds).
    Invariant {
        /// The invariant operation.
        #[command(subcommand)]
        action: InvariantAction,
    },
    /// Set, show, migrate or infer a collection's schema.
    Schema {
        /// The schema operation.
        #[command(subcommand)]
        action: SchemaAction,
    },
    /// Run the HTTP/JSON server (every setting: cairn.example.toml at the repository root).
    Serve(crate::commands::serve::ServeArgs),
    /// Show or change the membership of a running cluster (README "Clusters").
    Cluster(ClusterArgs),
    /// List every collection with its columns and types, schema version, documents, bytes,
    /// extensions and tags, as JSON lines; --tag keeps those carrying every given tag.
    Catalog {
        /// Only collections with this tag (KEY=VALUE; repeatable: all must match).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Where a collection's data came from (imported files with size and SHA-256, SQL
    /// derivations — CREATE TABLE AS SELECT, INSERT … SELECT — with their input tables and
    /// statement) and what it fed, as JSON lines; `--openlineage`: the upstream records as
    /// OpenLineage run events. An external table (`source.schema.table`) shows what it fed.
    Lineage {
        /// The collection, or an external table `source.schema.table`.
        collection: String,
        /// Print OpenLineage `RunEvent`s instead.
        #[arg(long)]
        openlineage: bool,
    },
    /// Key/value tags on a collection, shown and searchable in `cairn catalog`.
    Tag {
        /// What to do.
        #[command(subcommand)]
        action: TagAction,
    },
    /// Pull the event log of a running server through a named consumer whose position the
    /// server keeps (README "Event log").
    Consumer(ConsumerArgs),
    /// Benchmarks, side by side with a reference system.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        which: BenchCommand,
    },
}

/// `--mode`: where the database keeps its data (clap refuses any other value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// On disk; every commit durable before it returns.
    Persistent,
    /// In memory, flushed in the background (`--flush-interval-ms` is the loss window).
    MemoryFirst,
    /// On disk behind a page cache of `--memory-budget-mb`.
    Hybrid,
    /// In memory only; nothing is written to disk.
    MemoryOnly,
}

impl ModeArg {
    /// The mode's name, as the engine and the server's configuration file spell it.
    pub fn name(self) -> &'static str {
        match self {
            ModeArg::Persistent => "persistent",
            ModeArg::MemoryFirst => "memory-first",
            ModeArg::Hybrid => "hybrid",
            ModeArg::MemoryOnly => "memory-only",
        }
    }
}

/// `--compression`: `off` or a zstd level, checked when the flags are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionArg {
    /// Documents stored raw.
    Off,
    /// zstd at this level (1 to the engine's maximum), with trained dictionaries.
    Zstd(i32),
}

impl CompressionArg {
    /// Parses `off` or a level; the message names what is accepted.
    pub fn parse(text: &str) -> Result<CompressionArg, String> {
        let max = cairn::limits::MAX_ZSTD_LEVEL;
        if text == "off" {
            return Ok(CompressionArg::Off);
        }
        text.parse()
            .ok()
            .filter(|level| (1..=max).contains(level))
            .map(CompressionArg::Zstd)
            .ok_or_else(|| format!("use `off` or a zstd level 1-{max}"))
    }
}

/// `cairn index create --kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IndexKindArg {
    /// Ordered: equality, ranges, sort.
    Btree,
    /// Hashed: equality on all fields.
    Hash,
    /// One geometry field: `$withinDistance`, `$near`, `$intersects`, `$within`.
    Spatial,
    /// One vector field: nearest neighbours (needs --dims and --metric).
    Vector,
    /// String fields: full text, `$text` ranked by BM25.
    Text,
}

/// Presets that tune a database for one goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// memory-first mode, no compression.
    Speed,
    /// zstd level 9 with trained dictionaries.
    Space,
    /// persistent mode, encryption at rest (a key is required), compression on.
    Security,
}

/// `cairn backup DEST [--incremental] [--server URL]` or `cairn backup verify SRC`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    /// Verify instead of backing up.
    #[command(subcommand)]
    pub action: Option<BackupAction>,
    /// The backup folder (created if needed).
    pub dest: Option<PathBuf>,
    /// Only the changes since the previous backup in the folder.
    #[arg(long)]
    pub incremental: bool,
    /// Ask the `cairn serve` at this URL to take the backup (while it runs, the database
    /// cannot be opened here). DEST is then a folder under the server's `--backup-root`, on
    /// the server's machine. Credentials: a bearer token in CAIRN_TOKEN, or `--user` with the
    /// password in CAIRN_PASSWORD; the user must be an admin.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// User for `--server` with HTTP Basic (password from CAIRN_PASSWORD).
    #[arg(long, env = "CAIRN_USER", default_value = "root", requires = "server")]
    pub user: String,
}

/// Arguments of `cairn stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Print the query statistics per shape (count, total/mean/p99 time, documents examined
    /// against returned, last plan, missing-index hints) and the slow-query log of the
    /// `cairn serve` at `--server`: they live in the server's memory. Credentials as for
    /// `backup --server` (CAIRN_TOKEN, or --user with CAIRN_PASSWORD); admins only.
    #[arg(long, requires = "server")]
    pub queries: bool,
    /// The running server (with `--queries`).
    #[arg(long, value_name = "URL", requires = "queries")]
    pub server: Option<String>,
    /// User for `--server` with HTTP Basic (password from CAIRN_PASSWORD).
    #[arg(long, env = "CAIRN_USER", default_value = "root")]
    pub user: String,
}

/// `cairn cluster --server URL ACTION`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// The HTTP API URL of any node (changes are redirected to the leader).
    #[arg(
        long,
        value_name = "URL",
        env = "CAIRN_SERVER",
        default_value = "http://127.0.0.1:7878"
    )]
    pub server: String,
    /// User for HTTP Basic (password from CAIRN_PASSWORD; or a token in CAIRN_TOKEN).
    #[arg(long, env = "CAIRN_USER", default_value = "root")]
    pub user: String,
    /// What to do.
    #[command(subcommand)]
    pub action: ClusterAction,
}

/// `cairn consumer --server URL ACTION`.
#[derive(Debug, clap::Args)]
pub struct ConsumerArgs {
    /// The server's HTTP API URL.
    #[arg(
        long,
        value_name = "URL",
        env = "CAIRN_SERVER",
        default_value = "http://127.0.0.1:7878"
    )]
    pub server: String,
    /// User for HTTP Basic (password from CAIRN_PASSWORD; or a token in CAIRN_TOKEN).
    #[arg(long, env = "CAIRN_USER", default_value = "root")]
    pub user: String,
    /// What to do.
    #[command(subcommand)]
    pub action: ConsumerAction,
}

/// Tag operations.
#[derive(Debug, Subcommand)]
pub enum TagAction {
    /// Add or replace tags.
    Set {
        /// The collection.
        collection: String,
        /// KEY=VALUE pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Remove tags by key.
    Remove {
        /// The collection.
        collection: String,
        /// Keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Print a collection's tags as a JSON object.
    List {
        /// The collection.
        collection: String,
    },
}

/// Consumer operations.
#[derive(Debug, Subcommand)]
pub enum ConsumerAction {
    /// Create a consumer: it delivers the events committed after --from-seq (default: from
    /// now on), of one collection or (admins) of all.
    Create {
        /// Its name (letters, digits, `_`, `.`, `-`).
        name: String,
        /// The collection to follow (default: every user collection).
        #[arg(long)]
        collection: Option<String>,
        /// Start after this commit (0: everything still in the log).
        #[arg(long)]
        from_seq: Option<u64>,
    },
    /// Print the events after the consumer's position as JSON lines; with --ack, then
    /// acknowledge them, so the next pull continues after them (also after restarts).
    Pull {
        /// The consumer.
        name: String,
        /// Most events (1 to 1,000).
        #[arg(long, default_value_t = 100)]
        max: u32,
        /// Acknowledge the printed events once they are written out.
        #[arg(long)]
        ack: bool,
    },
    /// Every consumer with its position and how many commits it is behind.
    List,
}

/// Cluster operations.
#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// This node's role, the leader, term, log and applied indexes, members, follower lag.
    Status,
    /// Add a learner (a non-voting replica); returns once it has caught up.
    AddLearner {
        /// Its node id.
        node_id: u64,
        /// Its node-to-node address (host:port).
        cluster_addr: String,
        /// Its HTTP API base URL.
        api_url: String,
    },
    /// Make a learner a voter.
    Promote {
        /// Its node id.
        node_id: u64,
    },
    /// Remove a node from the cluster.
    Remove {
        /// Its node id.
        node_id: u64,
    },
}

/// Backup sub-operations.
#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Check a backup folder without restoring it: chain, sizes, SHA-256, every frame.
    Verify {
        /// The backup folder.
        src: PathBuf,
    },
}

/// Collection operations.
#[derive(Debug, Subcommand)]
pub enum CollectionAction {
    /// Create a collection; with `--edges`, an edge collection (documents with `_from` and
    /// `_to` naming vertices as "collection/id", kept in an adjacency index).
    Create {
        /// Its name.
        name: String,
        /// Keep no routing entry per document: each insert and delete costs one B-tree write
        /// less, and `cairn locate` searches the collection by primary key instead. Routing is
        /// on by default (the entity API finds any id's collection through it); the choice is
        /// made at creation.
        #[arg(long, conflicts_with_all = ["edges", "timeseries"])]
        no_routing: bool,
        /// Keep a routing entry per document (the default for every name but Cairn's own
        /// `_sys_*` collections).
        #[arg(long, conflicts_with = "no_routing")]
        routing: bool,
        /// Make it an edge collection.
        #[arg(long)]
        edges: bool,
        /// With `--edges`: what deleting a vertex named by an edge does.
        #[arg(long, value_enum, default_value_t = OnDelete::Restrict, requires = "edges")]
        on_delete: OnDelete,
        /// With `--edges`: vertex collections edges may point into under restrict/cascade
        /// (comma-separated; more later with `cairn collection register-vertices`).
        #[arg(long, value_delimiter = ',', requires = "edges")]
        vertices: Vec<String>,
        /// With `--edges`: edge properties to store in the adjacency index (comma-separated top-level
        /// fields, at most 8), so traversals filtering on them and `cairn path --weight` on them
        /// read no edge document.
        #[arg(long, value_delimiter = ',', requires = "edges")]
        store_properties: Vec<String>,
        /// Make it a time-series collection (points stored as compressed column chunks per
        /// series; write and read them with `cairn series`).
        #[arg(long, conflicts_with = "edges", requires_all = ["time_field", "meta_field"])]
        timeseries: bool,
        /// With `--timeseries`: the field holding each point's time (an integer, or a $date
        /// taken in microseconds).
        #[arg(long, requires = "timeseries")]
        time_field: Option<String>,
        /// With `--timeseries`: the field whose value names the series.
        #[arg(long, requires = "timeseries")]
        meta_field: Option<String>,
        /// With `--timeseries`: time one chunk covers at most, in the time field's unit.
        #[arg(long, requires = "timeseries", default_value_t = cairn::timeseries::DEFAULT_CHUNK_SPAN)]
        chunk_span: i64,
        /// With `--timeseries`: retention; `cairn series expire` drops chunks older than this.
        #[arg(long, requires = "timeseries")]
        expire_after: Option<i64>,
    },
    /// Let an edge collection's edges name documents of another collection (restrict/cascade).
    RegisterVertices {
        /// The edge collection.
        edges: String,
        /// The vertex collection.
        vertices: String,
    },
    /// Drop a collection and all its documents.
    Drop {
        /// Its name.
        name: String,
    },
    /// List collections.
    List,
    /// Rename a collection.
    Rename {
        /// Current name.
        from: String,
        /// New name.
        to: String,
    },
    /// Show or set how many of its own changes a collection keeps in its history (for `as_of`
    /// reads and audits), longer or shorter than the database-wide change-log retention.
    Retention {
        /// The collection.
        name: String,
        /// Keep this many of its changes.
        #[arg(long, conflicts_with = "default")]
        changes: Option<u64>,
        /// Go back to the database-wide retention (its kept history is dropped).
        #[arg(long)]
        default: bool,
    },
}

/// User management (`cairn user`), against the data folder while the server is stopped.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// List users: name, role, per-collection grants.
    List,
    /// Create a user; the password comes from CAIRN_PASSWORD, else it is asked for.
    Add {
        /// User name.
        name: String,
        /// What the user may do.
        #[arg(long, value_enum, default_value_t = crate::commands::user::RoleArg::ReadWrite)]
        role: crate::commands::user::RoleArg,
    },
    /// Set a user's password (e.g. a lost root password); its tokens stop working.
    Passwd {
        /// User name.
        name: String,
    },
    /// Delete a user and its tokens.
    Drop {
        /// User name.
        name: String,
    },
}

/// What deleting a vertex does to the edges naming it (`cairn collection create --edges`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnDelete {
    /// Refuse the delete while edges name the vertex.
    Restrict,
    /// Delete those edges in the same transaction.
    Cascade,
    /// Leave them dangling (`cairn check` lists them).
    None,
}

/// Source operations.
#[derive(Debug, Subcommand)]
pub enum SourceAction {
    /// Define a source (stored in the database: encrypted with it when it is). Its tables
    /// are `NAME.SCHEMA.TABLE` in SQL (`NAME.main.T` for SQLite, `NAME.public.FILE` for files).
    Add {
        /// Lower-case letters, digits and `_`, starting with a letter.
        name: String,
        /// `postgres`, `sqlite`, `csv`, `parquet` or `json` (newline-delimited).
        #[arg(long)]
        kind: String,
        /// `postgres://user:password@host:port/db`, or an absolute path of a file or folder
        /// (a folder is one table). Shown only with its password replaced by `***`.
        #[arg(long)]
        url: String,
    },
    /// List sources with their health (checked now: up/down, latency, tables).
    List,
    /// Remove a source (its data stays where it is).
    Remove {
        /// The source.
        name: String,
    },
}

/// Index operations.
#[derive(Debug, Subcommand)]
pub enum IndexAction {
    /// Create an index and build it from the documents already there (online: the
    /// collection stays usable); shows progress on a terminal.
    Create {
        /// Collection.
        collection: String,
        /// Index name.
        name: String,
        /// Fields, comma-separated, in key order (nested paths allowed: `a,b.c`).
        #[arg(long, value_delimiter = ',', required = true)]
        fields: Vec<String>,
        /// `btree` (equality, ranges, sort), `hash` (equality on all fields), `spatial`
        /// (one geometry field: `$withinDistance`, `$near`, `$intersects`, `$within`) or
        /// `vector` (one vector field: nearest neighbours; needs --dims and --metric) or
        /// `text` (string fields: `$text` with BM25; --language, --boosts, --edge-ngrams).
        #[arg(long, value_enum, default_value = "btree")]
        kind: IndexKindArg,
        /// Refuse two documents with the same key (documents with a null or missing field
        /// are exempt).
        #[arg(long)]
        unique: bool,
        #[command(flatten)]
        vector: VectorIndexArgs,
        #[command(flatten)]
        text: TextIndexArgs,
    },
    /// Drop an index.
    Drop {
        /// Collection.
        collection: String,
        /// Index name.
        name: String,
    },
    /// List a collection's indexes with their sizes.
    List {
        /// Collection.
        collection: String,
    },
}

/// The definition of a vector index (`cairn index create … --kind vector`).
#[derive(Debug, Clone, clap::Args)]
pub struct VectorIndexArgs {
    /// Vector index: the dimension every vector must have (e.g. 768).
    #[arg(long)]
    pub dims: Option<usize>,
    /// Vector index: `cosine`, `dot`, `l2` or `poincare` (hyperbolic, vectors inside the unit
    /// ball).
    #[arg(long)]
    pub metric: Option<String>,
    /// Vector index: HNSW neighbours per node (default 16).
    #[arg(long)]
    pub m: Option<usize>,
    /// Vector index: HNSW candidate list while inserting (default 128).
    #[arg(long)]
    pub ef_construction: Option<usize>,
    /// Vector index: default HNSW candidate list while searching (default 64).
    #[arg(long)]
    pub ef_search: Option<usize>,
}

/// The definition of a text index (`cairn index create … --kind text`).
#[derive(Debug, Clone, clap::Args)]
pub struct TextIndexArgs {
    /// Text index: the analyzer's language — stop words and stemming (default `english`;
    /// french, german, spanish, italian, portuguese, dutch, russian, swedish, or `none`).
    #[arg(long)]
    pub language: Option<String>,
    /// Text index: one boost per field, comma-separated, in the order of --fields (default 1).
    #[arg(long, value_delimiter = ',')]
    pub boosts: Option<Vec<f64>>,
    /// Text index: also index edge n-grams `MIN,MAX` long (search-as-you-type).
    #[arg(long, value_delimiter = ',', num_args = 2)]
    pub edge_ngrams: Option<Vec<usize>>,
}

/// Invariant operations.
#[derive(Debug, Subcommand)]
pub enum InvariantAction {
    /// Add an invariant, checked at every commit from now on. Rules: `conserve sum(FIELD)`,
    /// `FIELD >= N` (also >, <=, <), `sum(FIELD) by GROUP >= N`. Fails if the documents
    /// already there break it.
    Add {
        /// Collection.
        collection: String,
        /// The rule, e.g. 'sum(amount) by account >= 0' (quote it).
        rule: String,
        /// Name [default: derived from the rule, e.g. `amount_by_account_ge_0`].
        #[arg(long)]
        name: Option<String>,
    },
    /// Drop an invariant and its aggregates.
    Drop {
        /// Collection.
        collection: String,
        /// Invariant name.
        name: String,
    },
    /// List a collection's invariants with the totals they keep.
    List {
        /// Collection.
        collection: String,
    },
}

/// Schema operations.
#[derive(Debug, Subcommand)]
pub enum SchemaAction {
    /// Set a collection's schema from a JSON or YAML file (a new version; refused when the
    /// change needs a migration).
    Set {
        /// Collection.
        collection: String,
        /// The schema file.
        file: std::path::PathBuf,
    },
    /// Show a collection's current schema (as JSON), or its version history.
    Show {
        /// Collection.
        collection: String,
        /// List every version: who, when, what changed.
        #[arg(long)]
        history: bool,
    },
    /// Migrate to a new schema with a transformation, online and resumably; `--dry-run`
    /// reports how many documents would fail and why; `--resume` continues an interrupted one.
    Migrate {
        /// Collection.
        collection: String,
        /// The migration file (`schema`, optional `transform`); not needed with `--resume`.
        file: Option<std::path::PathBuf>,
        /// Report what would fail; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Continue the migration in progress.
        #[arg(long, conflicts_with = "file")]
        resume: bool,
        /// Documents per chunk transaction.
        #[arg(long, default_value_t = cairn::schema::limits::MIGRATION_CHUNK_DOCUMENTS)]
        chunk_size: usize,
        /// Pause after each chunk, in milliseconds (throttling).
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Show the fields documents have, their types and how often each appears (kept
    /// incrementally from the change log; the first call on a collection scans it once).
    Infer {
        /// Collection.
        collection: String,
        /// Print the inferred schema as a schema document (JSON) instead of the table.
        #[arg(long)]
        emit: bool,
    },
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Core document operations against SQLite (see the workload in `bench/core.rs`).
    Core(crate::bench::core::CoreArgs),
    /// Indexed queries, sorting, `$group` and index builds against SQLite (see the workload in
    /// `bench/query.rs`).
    Query(crate::bench::query::QueryArgs),
    /// Stored bytes and throughput with no compression, zstd, zstd + dictionary and
    /// encryption, against SQLite's file size (see `bench/storage.rs`).
    Storage(crate::bench::storage::StorageArgs),
    /// Spatial index and exact geometric queries against an in-memory R*-tree and PostGIS
    /// (see the workload in `bench/geo.rs`).
    Geo(crate::bench::geo::GeoArgs),
    /// The vector index through `find` against hnswlib, FAISS and usearch (see the workload in
    /// `bench/vector.rs`).
    Vector(crate::bench::vector::VectorArgs),
    /// The HTTP server against a minimal axum handler, the HTTP stack's ceiling (see
    /// `bench/http.rs`).
    Http(crate::bench::http::HttpArgs),
    /// Insert and transfer throughput with no invariant against a conserved sum, a field
    /// bound and a group bound (see `bench/invariant.rs`).
    Invariant(crate::bench::invariant::InvariantArgs),
    /// Insert throughput without a schema and with a 10-field schema (constraints and
    /// rules); see `bench/schema.rs`.
    Schema(crate::bench::schema::SchemaArgs),
    /// Time-series ingest, bytes per point, range reads, downsampling and latest points
    /// against SQLite, DuckDB and VictoriaMetrics (see the workload in `bench/timeseries.rs`).
    Timeseries(crate::bench::timeseries::TimeseriesArgs),
    /// Edge loads, k-hop counts and weighted shortest paths against SQLite recursive CTEs and
    /// Kuzu (see the workload in `bench/graph.rs`).
    Graph(crate::bench::graph::GraphArgs),
    /// Full-text indexing and top-10 term, AND, OR, phrase, prefix and fuzzy queries against
    /// tantivy, SQLite FTS5 and PostgreSQL (see the workload in `bench/text.rs`).
    Text(crate::bench::text::TextArgs),
    /// A Cairn collection joined with a PostgreSQL table filtered to 0.1 % through a
    /// `postgres` source, against PostgreSQL alone and DuckDB (see `bench/federation.rs`).
    Federation(crate::bench::federation::FederationArgs),
    /// SQL over the PostgreSQL wire protocol against PostgreSQL 15 and SQLite: point
    /// selects, indexed equality, range + group by, a join, a top-k (see `bench/sql.rs`).
    Sql(crate::bench::sql::SqlArgs),
    /// A three-node Raft cluster against a three-node etcd: strong writes with 1, 16 and 64
    /// clients, linearizable and local reads, failover after SIGKILL of the leader (see
    /// `bench/cluster.rs`).
    Cluster(crate::bench::cluster::ClusterArgs),
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse_error(args: &[&str]) -> String {
        let args = std::iter::once("cairn").chain(args.iter().copied());
        Cli::try_parse_from(args).unwrap_err().to_string()
    }

    #[test]
    fn mode_compression_and_kind_are_refused_when_parsed_naming_what_is_accepted() {
        let err = parse_error(&["--mode", "fast", "stats"]);
        assert!(
            err.contains("memory-first") && err.contains("memory-only"),
            "{err}"
        );
        let err = parse_error(&["--compression", "23", "stats"]);
        assert!(err.contains("use `off` or a zstd level 1-22"), "{err}");
        let err = parse_error(&[
            "index", "create", "c", "i", "--fields", "a", "--kind", "rtree",
        ]);
        assert!(err.contains("btree") && err.contains("spatial"), "{err}");
    }

    #[test]
    fn mode_compression_and_kind_parse_to_their_values() {
        let cli = Cli::try_parse_from([
            "cairn",
            "--mode",
            "memory-first",
            "--compression",
            "off",
            "stats",
        ])
        .unwrap();
        assert_eq!(cli.mode, Some(ModeArg::MemoryFirst));
        assert_eq!(cli.compression, Some(CompressionArg::Off));
        let cli = Cli::try_parse_from([
            "cairn",
            "--compression",
            "9",
            "index",
            "create",
            "c",
            "i",
            "--fields",
            "a",
        ])
        .unwrap();
        assert_eq!(cli.compression, Some(CompressionArg::Zstd(9)));
        let Command::Index {
            action: IndexAction::Create { kind, .. },
        } = cli.command
        else {
            panic!("not index create");
        };
        assert_eq!(kind, IndexKindArg::Btree);
    }
}
