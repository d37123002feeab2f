//! `oktamirror search`: the top matches for a query from the local store and its search index
//! (caught up first), printed one per line, without a running server.

use std::path::Path;

use oktamirror::search::{self, ParsedQuery};
use oktamirror::store::{PersonFilter, Store};

pub fn run(query: &str, data_dir: &Path, limit: usize) -> Result<(), String> {
    let parsed = ParsedQuery::parse(query).map_err(|e| e.to_string())?;
    if !data_dir.join("db").exists() && !data_dir.join("conf").exists() {
        return Err(format!(
            "{} holds no mirror; run `oktamirror sync --once --data-dir {}` first, or pass --data-dir",
            data_dir.display(),
            data_dir.display()
        ));
    }
    let store = Store::open(data_dir).map_err(|e| e.to_string())?;
    let dir = search::index_dir(data_dir);
    let index = search::Index::open(&dir, search::Index::stored_options(&dir))
        .map_err(|e| e.to_string())?;
    index.catch_up(&store).map_err(|e| e.to_string())?;
    let results = index
        .search(&parsed, &PersonFilter::default(), 0, limit)
        .map_err(|e| e.to_string())?;
    for hit in &results.hits {
        let Some(p) = store.person(&hit.id).map_err(|e| e.to_string())? else {
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
