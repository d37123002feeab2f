//! `oktamirror search`: the top matches for a query from the local store and its search index
//! (caught up first), printed one per line, without a running server.

use std::path::Path;

use oktamirror::search::{self, ParsedQuery};
use oktamirror::store::{PersonFilter, Store};

use super::CliError;

pub fn run(query: &str, data_dir: &Path, limit: usize) -> Result<(), CliError> {
    let parsed = ParsedQuery::parse(query)?;
    if !data_dir.join("db").exists() && !data_dir.join("conf").exists() {
        return Err(CliError::Failed(format!(
            "{} holds no mirror; run `oktamirror sync --once --data-dir {}` first, or pass --data-dir",
            data_dir.display(),
            data_dir.display()
        )));
    }
    let store = Store::open(data_dir)?;
    let dir = search::index_dir(data_dir);
    let index = search::Index::open(&dir, search::Index::stored_options(&dir))?;
    index.catch_up(&store)?;
    let results = index.search(&parsed, &PersonFilter::default(), 0, limit)?;
    for hit in &results.hits {
        let Some(p) = store.person(&hit.id)? else {
            continue;
        };
        let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        println!(
            "{:>7.2}  {}  <{}>  {} · {} · {}  [{}] {}",
            hit.score,
            p.name(),
            p.login,
            field(&p.title),
            field(&p.department),
            field(&p.city),
            p.status.as_str(),
            p.id
        );
    }
    eprintln!(
        "{} of {} matches for {query:?}",
        results.hits.len(),
        results.total
    );
    Ok(())
}
