//! What the runner sends for each statement of a migration file. The files are written for one
//! server; on a cluster each statement becomes its cluster form, most run `ON CLUSTER` on every
//! replica:
//!
//! - `CREATE TABLE t (…) ENGINE = XMergeTree(args) …` creates `t_local` with
//!   `ReplicatedXMergeTree('/clickhouse/<cluster>/tables/{shard}/<database>/t_local', '{replica}',
//!   args)` and `t`, `Distributed` over it, sharded by `installation_id` (a table without one
//!   keeps its rows on the first shard);
//! - a materialized view reads and writes the local tables, so each replica's inserts feed its
//!   own rollups (which replicate like any table) and a block that replication deduplicates
//!   reaches no rollup twice;
//! - a `MATERIALIZED` column is a `DEFAULT` one (the same expression, computed as the row is
//!   inserted): 18.16's `Distributed` table sends it to the shard with the row, which refuses a
//!   materialized column in an insert whatever the settings;
//! - `ALTER TABLE t …` alters `t_local` on one replica per shard (replication carries it to the
//!   others; see `crate::topology` for why not `ON CLUSTER` on one shard); an added column also
//!   rebuilds `t`, whose column list is its own (18.16 refuses `ALTER … ON CLUSTER` on a
//!   `Distributed` table of a replicated cluster);
//! - `DROP` reaches both tables on every replica; `TRUNCATE`, `t_local`'s rows, like an `ALTER`;
//! - backfills (`INSERT INTO t SELECT …`) go through the `Distributed` tables, as any insert.
//!
//! Every name is qualified with the database: a replica runs an `ON CLUSTER` statement in its
//! default database.

use std::collections::HashMap;

use crate::topology::{LOCAL_SUFFIX, Topology};

/// One unit of a migration: its statements run in order, unless `unless_column` names a column
/// that exists (18.16 cannot write `ADD COLUMN IF NOT EXISTS`; a rerun must skip the ALTER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Step {
    pub unless_column: Option<(String, String)>,
    pub statements: Vec<String>,
}

impl Step {
    fn always(statements: Vec<String>) -> Self {
        Self {
            unless_column: None,
            statements,
        }
    }
}

/// The one-server form: each statement as written.
pub(super) fn single(statement: &str) -> Step {
    Step {
        unless_column: added_column(statement)
            .map(|(table, column)| (table.to_owned(), column.to_owned())),
        statements: vec![statement.to_owned()],
    }
}

/// The cluster form of the migrations, statement by statement in version order. It learns the
/// tables as they are created (each table's sharding key, and which names are tables rather than
/// views), so it is fed every statement of every migration, applied or not.
pub(super) struct ClusterPlan {
    cluster: String,
    /// What a change to a replicated table adds to reach every shard.
    to_each_shard: String,
    database: String,
    /// Each table created so far, by name: its `Distributed` sharding key.
    tables: HashMap<String, &'static str>,
}

#[derive(Debug, thiserror::Error)]
#[error("a migration statement the cluster form does not know: {0}")]
pub struct UnknownStatement(String);

impl ClusterPlan {
    pub(super) fn new(topology: &Topology, database: &str) -> Self {
        let cluster = match topology {
            Topology::Cluster { name, .. } => name.clone(),
            Topology::Single => String::new(),
        };
        Self {
            cluster,
            to_each_shard: topology.to_each_shard(),
            database: database.to_owned(),
            tables: HashMap::new(),
        }
    }

    pub(super) fn render(&mut self, statement: &str) -> Result<Vec<Step>, UnknownStatement> {
        let unknown = || UnknownStatement(statement.trim().chars().take(80).collect());
        let trimmed = statement.trim_start();
        if let Some(rest) = after_words(trimmed, &["CREATE", "TABLE", "IF", "NOT", "EXISTS"]) {
            return self.create_table(rest).ok_or_else(unknown);
        }
        if let Some(rest) = after_words(
            trimmed,
            &["CREATE", "MATERIALIZED", "VIEW", "IF", "NOT", "EXISTS"],
        ) {
            return self.create_view(rest).ok_or_else(unknown);
        }
        if let Some(rest) = after_words(trimmed, &["ALTER", "TABLE"]) {
            return self.alter(trimmed, rest).ok_or_else(unknown);
        }
        if let Some(rest) = after_words(trimmed, &["DROP", "TABLE", "IF", "EXISTS"]) {
            let (name, _) = identifier(rest).ok_or_else(unknown)?;
            let mut statements = vec![format!(
                "DROP TABLE IF EXISTS {} ON CLUSTER {}",
                self.qualified(name),
                self.cluster
            )];
            if self.tables.remove(name).is_some() {
                statements.push(format!(
                    "DROP TABLE IF EXISTS {} ON CLUSTER {}",
                    self.qualified_local(name),
                    self.cluster
                ));
            }
            return Ok(vec![Step::always(statements)]);
        }
        if let Some(rest) = after_words(trimmed, &["TRUNCATE", "TABLE", "IF", "EXISTS"]) {
            let (name, _) = identifier(rest).ok_or_else(unknown)?;
            return Ok(vec![Step::always(vec![format!(
                "TRUNCATE TABLE IF EXISTS {}{}",
                self.qualified_local(name),
                self.to_each_shard
            )])]);
        }
        if after_words(trimmed, &["INSERT", "INTO"]).is_some() {
            return Ok(vec![Step::always(vec![statement.to_owned()])]);
        }
        Err(unknown())
    }

    fn create_table(&mut self, rest: &str) -> Option<Vec<Step>> {
        let (name, body) = identifier(rest)?;
        let engine_at = find_word(body, "ENGINE")?;
        let (columns, engine_clause) = body.split_at(engine_at);
        let columns = materialized_as_default(columns);
        let after_engine = engine_clause["ENGINE".len()..].trim_start();
        let after_equals = after_engine.strip_prefix('=')?.trim_start();
        let (engine, after_name) = identifier(after_equals)?;
        let open = after_name.strip_prefix('(')?;
        let close = closing_paren(open)?;
        let (arguments, settings) = (open[..close].trim(), &open[close + 1..]);
        let local = format!("{name}{LOCAL_SUFFIX}");
        let path = format!(
            "'/clickhouse/{}/tables/{{shard}}/{}/{local}'",
            self.cluster, self.database
        );
        let replicated_arguments = if arguments.is_empty() {
            format!("{path}, '{{replica}}'")
        } else {
            format!("{path}, '{{replica}}', {arguments}")
        };
        let sharding_key = if has_word(&columns, "installation_id") {
            "cityHash64(installation_id)"
        } else {
            "0"
        };
        self.tables.insert(name.to_owned(), sharding_key);
        Some(vec![Step::always(vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {} ON CLUSTER {} {}ENGINE = Replicated{engine}({replicated_arguments}){settings}",
                self.qualified_local(name),
                self.cluster,
                columns.trim_start(),
            ),
            self.create_distributed(name),
        ])])
    }

    fn create_distributed(&self, name: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} ON CLUSTER {} AS {} ENGINE = Distributed({}, {}, {name}{LOCAL_SUFFIX}, {})",
            self.qualified(name),
            self.cluster,
            self.qualified_local(name),
            self.cluster,
            self.database,
            self.tables.get(name).copied().unwrap_or("0"),
        )
    }

    fn create_view(&self, rest: &str) -> Option<Vec<Step>> {
        let (name, rest) = identifier(rest)?;
        let rest = after_words(rest.trim_start(), &["TO"])?;
        let (target, select) = identifier(rest)?;
        let select = after_words(select.trim_start(), &["AS"])?;
        Some(vec![Step::always(vec![format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {} ON CLUSTER {} TO {} AS {}",
            self.qualified(name),
            self.cluster,
            self.qualified_local(target),
            self.local_tables_in(select),
        )])])
    }

    fn alter(&self, statement: &str, rest: &str) -> Option<Vec<Step>> {
        let (table, change) = identifier(rest)?;
        let local = Step::always(vec![format!(
            "ALTER TABLE {}{}{}",
            self.qualified_local(table),
            self.to_each_shard,
            materialized_as_default(change)
        )]);
        let Some((_, column)) = added_column(statement) else {
            return Some(vec![local]);
        };
        let unless = |table: String| Some((table, column.to_owned()));
        Some(vec![
            Step {
                unless_column: unless(format!("{table}{LOCAL_SUFFIX}")),
                ..local
            },
            Step {
                unless_column: unless(table.to_owned()),
                statements: vec![
                    format!(
                        "DROP TABLE IF EXISTS {} ON CLUSTER {}",
                        self.qualified(table),
                        self.cluster
                    ),
                    self.create_distributed(table),
                ],
            },
        ])
    }

    /// `select` with every table it reads after `FROM` or `JOIN` replaced by the qualified local
    /// table; string literals are passed over.
    fn local_tables_in(&self, select: &str) -> String {
        let mut out = String::with_capacity(select.len() + 64);
        let mut previous_word = String::new();
        let mut chars = select.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c == '\'' {
                out.push(c);
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    out.push(c);
                    match c {
                        '\\' if !escaped => escaped = true,
                        '\'' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                continue;
            }
            if is_identifier_char(c) {
                let mut end = at + c.len_utf8();
                while let Some(&(next_at, next)) = chars.peek() {
                    if !is_identifier_char(next) {
                        break;
                    }
                    end = next_at + next.len_utf8();
                    chars.next();
                }
                let word = &select[at..end];
                let reads_table = previous_word.eq_ignore_ascii_case("FROM")
                    || previous_word.eq_ignore_ascii_case("JOIN");
                if reads_table && self.tables.contains_key(word) {
                    out.push_str(&self.qualified_local(word));
                } else {
                    out.push_str(word);
                }
                previous_word = word.to_owned();
                continue;
            }
            if !c.is_whitespace() {
                previous_word.clear();
            }
            out.push(c);
        }
        out
    }

    fn qualified(&self, name: &str) -> String {
        format!("{}.{name}", self.database)
    }

    fn qualified_local(&self, name: &str) -> String {
        format!("{}.{name}{LOCAL_SUFFIX}", self.database)
    }
}

/// `(table, column)` of an `ALTER TABLE table ADD COLUMN column …` statement.
pub(super) fn added_column(statement: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = statement.split_whitespace().take(6).collect();
    match words.as_slice() {
        [alter, table_word, table, add, column_word, column]
            if alter.eq_ignore_ascii_case("ALTER")
                && table_word.eq_ignore_ascii_case("TABLE")
                && add.eq_ignore_ascii_case("ADD")
                && column_word.eq_ignore_ascii_case("COLUMN") =>
        {
            Some((table, column))
        }
        _ => None,
    }
}

/// Column definitions with each `MATERIALIZED expr` written `DEFAULT expr`.
fn materialized_as_default(columns: &str) -> String {
    let mut out = String::with_capacity(columns.len());
    let mut rest = columns;
    while let Some(at) = find_word(rest, "MATERIALIZED") {
        out.push_str(&rest[..at]);
        out.push_str("DEFAULT");
        rest = &rest[at + "MATERIALIZED".len()..];
    }
    out.push_str(rest);
    out
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What follows `words` (case-insensitive, separated by any whitespace) at the start of `text`.
fn after_words<'a>(text: &'a str, words: &[&str]) -> Option<&'a str> {
    let mut rest = text.trim_start();
    for word in words {
        let (found, after) = identifier(rest)?;
        if !found.eq_ignore_ascii_case(word) {
            return None;
        }
        rest = after.trim_start();
    }
    Some(rest)
}

/// The identifier at the start of `text` (after whitespace), and what follows it.
fn identifier(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !is_identifier_char(c))
        .unwrap_or(text.len());
    (end > 0).then(|| text.split_at(end))
}

/// The byte offset of `word` standing alone (not part of a longer identifier) in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_identifier_char) && !after.is_some_and(is_identifier_char) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

fn has_word(text: &str, word: &str) -> bool {
    find_word(text, word).is_some()
}

/// The offset of the `)` that closes a parenthesis opened just before `text`.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(at),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ClusterPlan {
        plan_of(2)
    }

    fn plan_of(shards: u32) -> ClusterPlan {
        let topology = Topology::Cluster {
            name: "metafrazo".into(),
            shards,
        };
        ClusterPlan::new(&topology, "db")
    }

    fn rendered(plan: &mut ClusterPlan, statement: &str) -> Vec<String> {
        plan.render(statement)
            .unwrap()
            .into_iter()
            .flat_map(|step| step.statements)
            .collect()
    }

    #[test]
    fn a_table_becomes_a_replicated_table_and_a_distributed_one_sharded_by_installation() {
        let statements = rendered(
            &mut plan(),
            "CREATE TABLE IF NOT EXISTS events (\n    installation_id String,\n    version UInt64,\n    at DateTime MATERIALIZED toDateTime(version)\n) ENGINE = ReplacingMergeTree(version)\nPARTITION BY x\nORDER BY (installation_id)",
        );
        assert_eq!(
            statements,
            [
                "CREATE TABLE IF NOT EXISTS db.events_local ON CLUSTER metafrazo (\n    installation_id String,\n    version UInt64,\n    at DateTime DEFAULT toDateTime(version)\n) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/metafrazo/tables/{shard}/db/events_local', '{replica}', version)\nPARTITION BY x\nORDER BY (installation_id)",
                "CREATE TABLE IF NOT EXISTS db.events ON CLUSTER metafrazo AS db.events_local ENGINE = Distributed(metafrazo, db, events_local, cityHash64(installation_id))",
            ]
        );
        let without = rendered(
            &mut plan(),
            "CREATE TABLE IF NOT EXISTS snapshots (snapshot UInt64) ENGINE = MergeTree() ORDER BY snapshot",
        );
        assert!(without[0].contains("ReplicatedMergeTree('/clickhouse/metafrazo/tables/{shard}/db/snapshots_local', '{replica}') ORDER BY snapshot"), "{}", without[0]);
        assert!(
            without[1].ends_with("snapshots_local, 0)"),
            "{}",
            without[1]
        );
    }

    #[test]
    fn a_view_reads_and_writes_the_local_tables_of_its_replica() {
        let mut plan = plan();
        for table in ["events", "field_changes", "rollup"] {
            plan.render(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (installation_id String) ENGINE = MergeTree() ORDER BY installation_id"
            ))
            .unwrap();
        }
        let view = rendered(
            &mut plan,
            "CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_from_events TO rollup AS\nSELECT installation_id, 'from events' AS k FROM events\nWHERE (installation_id, d) IN (SELECT installation_id, d FROM field_changes) AND x NOT IN (SELECT y FROM unknown_table)",
        );
        assert_eq!(
            view,
            [
                "CREATE MATERIALIZED VIEW IF NOT EXISTS db.rollup_from_events ON CLUSTER metafrazo TO db.rollup_local AS SELECT installation_id, 'from events' AS k FROM db.events_local\nWHERE (installation_id, d) IN (SELECT installation_id, d FROM db.field_changes_local) AND x NOT IN (SELECT y FROM unknown_table)"
            ]
        );
    }

    #[test]
    fn an_added_column_alters_the_local_table_and_rebuilds_the_distributed_one() {
        let mut plan = plan();
        plan.render("CREATE TABLE IF NOT EXISTS events (installation_id String) ENGINE = MergeTree() ORDER BY installation_id").unwrap();
        let steps = plan
            .render("ALTER TABLE events ADD COLUMN labels Array(String) AFTER installation_id")
            .unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[0].unless_column,
            Some(("events_local".into(), "labels".into()))
        );
        assert_eq!(
            steps[0].statements,
            [
                "ALTER TABLE db.events_local ON CLUSTER `metafrazo` ADD COLUMN labels Array(String) AFTER installation_id"
            ]
        );
        assert_eq!(
            steps[1].unless_column,
            Some(("events".into(), "labels".into()))
        );
        assert_eq!(
            steps[1].statements,
            [
                "DROP TABLE IF EXISTS db.events ON CLUSTER metafrazo",
                "CREATE TABLE IF NOT EXISTS db.events ON CLUSTER metafrazo AS db.events_local ENGINE = Distributed(metafrazo, db, events_local, cityHash64(installation_id))",
            ]
        );
    }

    #[test]
    fn drops_reach_both_tables_of_a_table_and_the_one_of_a_view() {
        let mut plan = plan();
        plan.render("CREATE TABLE IF NOT EXISTS t (a String) ENGINE = MergeTree() ORDER BY a")
            .unwrap();
        assert_eq!(
            rendered(&mut plan, "DROP TABLE IF EXISTS t"),
            [
                "DROP TABLE IF EXISTS db.t ON CLUSTER metafrazo",
                "DROP TABLE IF EXISTS db.t_local ON CLUSTER metafrazo"
            ]
        );
        assert_eq!(
            rendered(&mut plan, "DROP TABLE IF EXISTS a_view"),
            ["DROP TABLE IF EXISTS db.a_view ON CLUSTER metafrazo"]
        );
        assert_eq!(
            rendered(&mut plan, "TRUNCATE TABLE IF EXISTS t"),
            ["TRUNCATE TABLE IF EXISTS db.t_local ON CLUSTER `metafrazo`"]
        );
        assert!(plan.render("OPTIMIZE TABLE t FINAL").is_err());
    }

    #[test]
    fn on_one_shard_a_replicated_change_goes_to_the_connected_replica_alone() {
        let mut plan = plan_of(1);
        plan.render("CREATE TABLE IF NOT EXISTS t (a String) ENGINE = MergeTree() ORDER BY a")
            .unwrap();
        let steps = plan.render("ALTER TABLE t ADD COLUMN b String").unwrap();
        assert_eq!(
            steps[0].statements,
            ["ALTER TABLE db.t_local ADD COLUMN b String"]
        );
        assert_eq!(
            rendered(&mut plan, "TRUNCATE TABLE IF EXISTS t"),
            ["TRUNCATE TABLE IF EXISTS db.t_local"]
        );
        assert!(
            rendered(&mut plan, "DROP TABLE IF EXISTS t")
                .iter()
                .all(|statement| statement.ends_with(" ON CLUSTER metafrazo"))
        );
    }

    #[test]
    fn an_added_column_is_named_and_other_statements_are_not() {
        assert_eq!(
            added_column("ALTER TABLE events\nADD COLUMN labels Array(String) AFTER x"),
            Some(("events", "labels"))
        );
        assert_eq!(added_column("ALTER TABLE events DELETE WHERE 1"), None);
        assert_eq!(added_column("CREATE TABLE t (a String)"), None);
    }
}
