//! Keeps the README's configuration table true: every variable a service's command declares is
//! in it, with the default the code declares wherever the table states one.

use std::collections::HashMap;

use clap::Command;

/// Panics naming each variable `command` declares that the README leaves out or gives another
/// default.
pub fn assert_documents(command: &Command) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("the workspace README");
    let wrong = problems(command, &readme);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn problems(command: &Command, readme: &str) -> Vec<String> {
    let documented = documented_defaults(readme);
    let mut wrong = Vec::new();
    for arg in command.get_arguments() {
        let Some(name) = arg.get_env().map(|name| name.to_string_lossy()) else {
            continue;
        };
        let declared: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let Some(cell) = documented.get(name.as_ref()) else {
            wrong.push(format!("{name} is not in README.md's configuration table"));
            continue;
        };
        let stated = stated_value(cell);
        let agrees = match stated {
            Stated::Value(value) => declared == [value],
            Stated::Nothing => declared.is_empty(),
            Stated::Prose => true,
        };
        if !agrees {
            wrong.push(format!(
                "{name}: README.md says the default is {cell:?}, the code {declared:?}"
            ));
        }
    }
    wrong
}

/// The "## Configuration" rows, variable → what its default cell says for it.
fn documented_defaults(readme: &str) -> HashMap<String, String> {
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with("Configuration\n"))
        .expect("README.md has a \"## Configuration\" section");
    let mut defaults = HashMap::new();
    for row in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let names: Vec<&str> = cells[0]
            .trim_start_matches("| ")
            .split(" / ")
            .map(|name| name.trim_matches('`'))
            .collect();
        // `A` / `B` rows give one default per name, in order, when there are as many.
        let stated: Vec<&str> = cells[1].split(" / ").collect();
        for (index, name) in names.iter().enumerate() {
            let default = if stated.len() == names.len() {
                stated[index]
            } else {
                cells[1]
            };
            defaults.insert((*name).to_owned(), default.trim().to_owned());
        }
    }
    defaults
}

enum Stated<'a> {
    /// `` `value` `` first, or `empty` for "".
    Value(&'a str),
    /// `none`: no default.
    Nothing,
    /// "a development key", "the demo app's ARI": not compared.
    Prose,
}

fn stated_value(cell: &str) -> Stated<'_> {
    if cell == "empty" {
        return Stated::Value("");
    }
    if cell.starts_with("none") {
        return Stated::Nothing;
    }
    match cell
        .strip_prefix('`')
        .and_then(|rest| rest.split('`').next())
    {
        Some(value) => Stated::Value(value),
        None => Stated::Prose,
    }
}

#[cfg(test)]
mod tests {
    use clap::Arg;

    use super::*;

    const README: &str = "# x\n\n## Configuration\n\n| variable | default | used by |\n\
        | --- | --- | --- |\n\
        | `A_ADDR` | `127.0.0.1:1` (locally) | a |\n\
        | `B_USER` / `B_PASSWORD` | `default` / empty | b |\n\
        | `C_ID` | none (`compose/local` sets one) | c |\n\
        | `D_KEY` | a development key | d |\n\n## Metrics\n\n| `E_LATER` | `1` | e |\n";

    fn var(name: &'static str, default: Option<&'static str>) -> Arg {
        let arg = Arg::new(name).long(name).env(name);
        match default {
            Some(default) => arg.default_value(default),
            None => arg,
        }
    }

    #[test]
    fn a_table_that_agrees_with_the_code_passes() {
        let command = Command::new("t").args([
            var("A_ADDR", Some("127.0.0.1:1")),
            var("B_USER", Some("default")),
            var("B_PASSWORD", Some("")),
            var("C_ID", None),
            var("D_KEY", Some("anything")),
        ]);
        assert_eq!(problems(&command, README), Vec::<String>::new());
    }

    #[test]
    fn each_disagreement_is_named() {
        let cases = [
            (
                "another default",
                var("A_ADDR", Some("0.0.0.0:1")),
                "A_ADDR",
            ),
            ("not empty", var("B_PASSWORD", Some("x")), "B_PASSWORD"),
            ("a default where none is", var("C_ID", Some("x")), "C_ID"),
            (
                "only outside the section",
                var("E_LATER", Some("1")),
                "E_LATER is not in",
            ),
            ("missing", var("F_NEW", Some("1")), "F_NEW is not in"),
        ];
        for (case, arg, expected) in cases {
            let found = problems(&Command::new("t").arg(arg), README);
            assert!(
                found.len() == 1 && found[0].contains(expected),
                "{case}: {found:?}"
            );
        }
    }
}
