//! What a student's browser keeps of the lessons (localStorage): per chapter, the furthest
//! step reached, the guess and whether the puzzle was solved. One line per chapter,
//! `chapter<TAB>step<TAB>solved<TAB>guess`; a line that does not read is skipped, so a
//! damaged store costs progress, never the page.

use std::collections::BTreeMap;

const KEY: &str = "grapevine.lessons";

/// One chapter's progress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// The furthest step reached, 1-based (0: not opened).
    pub step: u32,
    /// The puzzle was solved.
    pub solved: bool,
    /// The guess, as typed.
    pub guess: String,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Every chapter's progress.
pub fn load() -> BTreeMap<u32, Progress> {
    let text = storage()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .unwrap_or_default();
    read(&text)
}

/// Reads the stored text.
pub fn read(text: &str) -> BTreeMap<u32, Progress> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(4, '\t');
            let chapter = f.next()?.parse().ok()?;
            let step = f.next()?.parse().ok()?;
            let solved = f.next()? == "1";
            let guess = f.next().unwrap_or("").chars().take(40).collect();
            Some((
                chapter,
                Progress {
                    step,
                    solved,
                    guess,
                },
            ))
        })
        .collect()
}

/// The stored text of `all`.
pub fn write(all: &BTreeMap<u32, Progress>) -> String {
    all.iter()
        .map(|(c, p)| {
            let guess: String = p.guess.chars().filter(|c| !c.is_control()).collect();
            format!("{c}\t{}\t{}\t{guess}\n", p.step, u8::from(p.solved))
        })
        .collect()
}

/// Saves chapter `chapter`'s progress (private browsing without storage: kept for the visit).
pub fn save(chapter: u32, progress: &Progress) {
    let mut all = load();
    let kept = all.entry(chapter).or_default();
    kept.step = kept.step.max(progress.step);
    kept.solved |= progress.solved;
    kept.guess.clone_from(&progress.guess);
    if let Some(s) = storage() {
        let _ = s.set_item(KEY, &write(&all));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_and_damage_is_skipped() {
        let mut all = BTreeMap::new();
        all.insert(
            1,
            Progress {
                step: 5,
                solved: true,
                guess: "17\tx".into(),
            },
        );
        all.insert(
            3,
            Progress {
                step: 2,
                solved: false,
                guess: String::new(),
            },
        );
        let text = write(&all);
        let back = read(&(text + "garbage\n7\tx\t1\t\n"));
        assert_eq!(back[&1].step, 5);
        assert!(back[&1].solved);
        assert_eq!(
            back[&1].guess, "17x",
            "a control character cannot break the line"
        );
        assert_eq!(back[&3], all[&3]);
        assert_eq!(back.len(), 2);
    }
}
