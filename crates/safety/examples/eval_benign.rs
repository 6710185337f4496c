//! False positives of the nudity filter on benign pictures: classifies every picture of a
//! manifest (or of some folders) with the real classifier, as the app does (`classify_bytes`
//! on the file's bytes), and prints, per category and overall, the share judged explicit at a
//! sweep of explicit thresholds (alone; with a floor on the share of skin-coloured pixels, a
//! second signal that was evaluated and rejected; and with the colour-noise veto of the rule
//! in force, [`natter_safety::noise_veto`]), the share judged suggestive at a sweep of
//! suggestive thresholds, the share each verdict of the rule in force gets, the colour noise
//! per category, and the pictures with the highest explicit scores. It also reports the
//! committed fixture's margin under the rule in force (as committed, re-encoded as JPEG and
//! resized).
//!
//! ```text
//! bash crates/safety/eval/gather.sh       # builds ~/.cache/natter/safety-eval/manifest.tsv
//! cargo run --release -p natter-safety --example eval_benign -- \
//!     --manifest ~/.cache/natter/safety-eval/manifest.tsv [--json out.json] [--scores out.tsv]
//! cargo run --release -p natter-safety --example eval_benign -- DIR...   # category = folder name
//! ```
//!
//! The manifest is a TSV of `path<TAB>category[<TAB>origin]`, one picture a line. Only benign
//! pictures belong in it: every "explicit" here is a false positive. False negatives are not
//! measured (no labelled explicit picture may be used).

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};
use natter_safety::{
    noise_veto, skin, Classifier, ColourNoise, Scores, Verdict, EXPLICIT_THRESHOLD, INPUT_SIZE,
    NOISE_VETO_CHROMA, NOISE_VETO_RATIO, SUGGESTIVE_THRESHOLD,
};
use serde::Serialize;

const EXPLICIT_SWEEP: [f32; 10] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99];
const SUGGESTIVE_SWEEP: [f32; 5] = [0.5, 0.6, 0.7, 0.8, 0.9];
/// Skin-share floors tried with every explicit threshold (0: no floor, the threshold alone):
/// whether "explicit needs some skin-coloured pixels" would remove false positives.
const SKIN_SWEEP: [f32; 4] = [0.0, 0.05, 0.1, 0.2];

struct Item {
    path: PathBuf,
    category: String,
    origin: String,
}

#[derive(Serialize)]
struct Row {
    path: PathBuf,
    category: String,
    origin: String,
    scores: Scores,
    /// Share of skin-coloured pixels in the 224×224 input ([`natter_safety::skin`]).
    skin: f32,
    /// Largest 8-connected skin-coloured region, as a share of the 224×224 input.
    region: f32,
    /// Colour noise of the 224×224 input ([`natter_safety::noise`]).
    noise: ColourNoise,
    /// Whether the colour-noise veto applies ([`natter_safety::noise_veto`]).
    vetoed: bool,
    verdict: Verdict,
}

fn usage() -> ! {
    eprintln!(
        "usage: eval_benign (--manifest FILE | DIR...) [--json FILE] [--scores FILE] [--top N]"
    );
    std::process::exit(2)
}

fn read_manifest(path: &Path) -> Vec<Item> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split('\t');
            let path = PathBuf::from(f.next().expect("a path"));
            let category = f.next().unwrap_or("uncategorised").to_owned();
            let origin = f.next().unwrap_or("").to_owned();
            Item {
                path,
                category,
                origin,
            }
        })
        .collect()
}

fn read_dirs(dirs: &[PathBuf]) -> Vec<Item> {
    let mut items = Vec::new();
    for dir in dirs {
        let category = dir
            .file_name()
            .map_or("uncategorised".into(), |n| n.to_string_lossy().into_owned());
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        items.extend(files.into_iter().map(|path| Item {
            path,
            category: category.clone(),
            origin: dir.display().to_string(),
        }));
    }
    items
}

fn classify_all(classifier: &Classifier, items: &[Item]) -> Vec<Option<Row>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len())
        .max(1);
    let mut out: Vec<(usize, Option<Row>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, item)| {
                            let result = std::fs::read(&item.path)
                                .map_err(|e| e.to_string())
                                .and_then(|b| {
                                    let c =
                                        classifier.classify_bytes(&b).map_err(|e| e.to_string())?;
                                    let img =
                                        image::load_from_memory(&b).map_err(|e| e.to_string())?;
                                    Ok((c, skin_of(&img)))
                                });
                            let row = match result {
                                Ok((c, (skin, region, noise))) => Some(Row {
                                    skin,
                                    region,
                                    noise,
                                    vetoed: noise_veto(&noise),
                                    path: item.path.clone(),
                                    category: item.category.clone(),
                                    origin: item.origin.clone(),
                                    scores: c.scores,
                                    verdict: c.verdict,
                                }),
                                Err(e) => {
                                    eprintln!("skipped {}: {e}", item.path.display());
                                    None
                                }
                            };
                            (i, row)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker"))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

/// Rows grouped by category, plus "ALL".
fn groups(rows: &[Row]) -> Vec<(String, Vec<&Row>)> {
    let mut by: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by.entry(r.category.clone()).or_default().push(r);
    }
    let mut out: Vec<_> = by.into_iter().collect();
    out.push(("ALL".into(), rows.iter().collect()));
    out
}

fn explicit_at(r: &Row, threshold: f32, floor: f32) -> bool {
    r.scores.explicit() >= threshold && r.skin >= floor
}

/// Explicit at `threshold` under the colour-noise veto of the rule in force.
fn explicit_under_veto(r: &Row, threshold: f32) -> bool {
    r.scores.explicit() >= threshold && !r.vetoed
}

#[derive(Serialize)]
struct Report {
    images: usize,
    rule: Rule,
    /// category → skin floor → explicit threshold → share judged explicit (threshold alone
    /// and skin floors: no colour-noise veto).
    explicit: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>,
    /// category → explicit threshold → share judged explicit with the colour-noise veto.
    explicit_with_veto: BTreeMap<String, BTreeMap<String, f64>>,
    /// category → suggestive threshold → share judged suggestive (among those not explicit
    /// under the rule in force).
    suggestive: BTreeMap<String, BTreeMap<String, f64>>,
    /// category → verdict → share, under the rule in force.
    verdicts: BTreeMap<String, BTreeMap<String, f64>>,
    counts: BTreeMap<String, usize>,
    fixture: Vec<FixtureView>,
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct Rule {
    explicit_threshold: f32,
    noise_veto_chroma: f32,
    noise_veto_ratio: f32,
    suggestive_threshold: f32,
}

#[derive(Serialize)]
struct FixtureView {
    view: String,
    explicit: f32,
    skin: f32,
    region: f32,
    noise: ColourNoise,
    vetoed: bool,
    verdict: Verdict,
}

/// Skin share, largest skin region and colour noise of a picture as the model sees it
/// (224×224, the classifier's resize).
fn skin_of(img: &DynamicImage) -> (f32, f32, ColourNoise) {
    let small = img
        .resize_exact(INPUT_SIZE, INPUT_SIZE, FilterType::Triangle)
        .into_rgb8();
    (
        skin::skin_share(small.as_raw()),
        skin::largest_skin_region(small.as_raw(), INPUT_SIZE as usize),
        ColourNoise::measure(small.as_raw(), INPUT_SIZE as usize),
    )
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    if format == ImageFormat::Jpeg {
        JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img.to_rgb8())
            .expect("JPEG into memory");
    } else {
        img.write_to(&mut Cursor::new(&mut out), format)
            .expect("encoding into memory");
    }
    out
}

/// The committed fixture as it may reach the classifier: as is, JPEG q80, enlarged, shrunk.
fn fixture_views(classifier: &Classifier) -> Vec<FixtureView> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explicit-by-search.png");
    let png = std::fs::read(&path).expect("the committed fixture");
    let img = image::load_from_memory(&png).expect("the fixture decodes");
    let views: Vec<(&str, Vec<u8>)> = vec![
        ("256x256 PNG (as committed)", png.clone()),
        ("256x256 JPEG q80", encode(&img, ImageFormat::Jpeg)),
        (
            "1024x1024 Lanczos3 JPEG q80",
            encode(
                &img.resize_exact(1024, 1024, FilterType::Lanczos3),
                ImageFormat::Jpeg,
            ),
        ),
        (
            "160x160 Lanczos3 PNG",
            encode(
                &img.resize_exact(160, 160, FilterType::Lanczos3),
                ImageFormat::Png,
            ),
        ),
        (
            "640x480 Triangle JPEG q80",
            encode(
                &img.resize_exact(640, 480, FilterType::Triangle),
                ImageFormat::Jpeg,
            ),
        ),
    ];
    views
        .into_iter()
        .map(|(name, bytes)| {
            let c = classifier.classify_bytes(&bytes).expect("classifies");
            let (skin, region, noise) = skin_of(&image::load_from_memory(&bytes).expect("decodes"));
            FixtureView {
                view: name.into(),
                explicit: c.scores.explicit(),
                skin,
                region,
                noise,
                vetoed: noise_veto(&noise),
                verdict: c.verdict,
            }
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut manifest, mut dirs, mut json, mut scores_out, mut top) =
        (None, Vec::new(), None, None, 15usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--manifest" => manifest = Some(PathBuf::from(args.next().unwrap_or_else(|| usage()))),
            "--json" => json = Some(PathBuf::from(args.next().unwrap_or_else(|| usage()))),
            "--scores" => scores_out = Some(PathBuf::from(args.next().unwrap_or_else(|| usage()))),
            "--top" => {
                top = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "-h" | "--help" => usage(),
            _ => dirs.push(PathBuf::from(a)),
        }
    }
    let items = match (&manifest, dirs.is_empty()) {
        (Some(m), true) => read_manifest(m),
        (None, false) => read_dirs(&dirs),
        _ => usage(),
    };
    let classifier = Classifier::load().expect("the embedded model loads");
    let started = Instant::now();
    let rows: Vec<Row> = classify_all(&classifier, &items)
        .into_iter()
        .flatten()
        .collect();
    eprintln!(
        "classified {} of {} pictures in {:.1} s",
        rows.len(),
        items.len(),
        started.elapsed().as_secs_f64()
    );
    let groups = groups(&rows);
    let width = groups
        .iter()
        .map(|(c, _)| c.len())
        .max()
        .unwrap_or(8)
        .max(8);

    println!(
        "\nRule in force: explicit when porn + hentai >= {EXPLICIT_THRESHOLD} unless the \
         colour-noise veto applies (chroma noise >= {NOISE_VETO_CHROMA} and >= \
         {NOISE_VETO_RATIO} x luma noise), else suggestive when sexy >= {SUGGESTIVE_THRESHOLD}."
    );
    println!("\nVerdicts under the rule in force (% of pictures):");
    println!(
        "{:<width$} {:>5} {:>9} {:>11} {:>7}",
        "category", "n", "explicit", "suggestive", "safe"
    );
    let mut verdicts = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for (cat, rs) in &groups {
        let n = rs.len();
        let count = |v: Verdict| rs.iter().filter(|r| r.verdict == v).count();
        let (e, s, f) = (
            count(Verdict::Explicit),
            count(Verdict::Suggestive),
            count(Verdict::Safe),
        );
        println!(
            "{cat:<width$} {n:>5} {:>8.1}% {:>10.1}% {:>6.1}%",
            pct(e, n),
            pct(s, n),
            pct(f, n)
        );
        counts.insert(cat.clone(), n);
        verdicts.insert(
            cat.clone(),
            BTreeMap::from([
                ("explicit".to_owned(), pct(e, n)),
                ("suggestive".to_owned(), pct(s, n)),
                ("safe".to_owned(), pct(f, n)),
            ]),
        );
    }

    let mut explicit: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>> = BTreeMap::new();
    for floor in SKIN_SWEEP {
        if floor == 0.0 {
            println!("\nShare judged explicit (porn + hentai >= t), threshold alone:");
        } else {
            println!("\nShare judged explicit (porn + hentai >= t) with skin share >= {floor}:");
        }
        print!("{:<width$} {:>5}", "category", "n");
        for t in EXPLICIT_SWEEP {
            print!(" {:>7}", format!("t={t}"));
        }
        println!();
        for (cat, rs) in &groups {
            print!("{cat:<width$} {:>5}", rs.len());
            for t in EXPLICIT_SWEEP {
                let n = rs.iter().filter(|r| explicit_at(r, t, floor)).count();
                print!(" {:>6.1}%", pct(n, rs.len()));
                explicit
                    .entry(cat.clone())
                    .or_default()
                    .entry(format!("{floor}"))
                    .or_default()
                    .insert(format!("{t}"), pct(n, rs.len()));
            }
            println!();
        }
    }

    println!("\nShare judged explicit (porn + hentai >= t) with the colour-noise veto:");
    print!("{:<width$} {:>5}", "category", "n");
    for t in EXPLICIT_SWEEP {
        print!(" {:>7}", format!("t={t}"));
    }
    println!(" {:>7}", "vetoed");
    let mut explicit_with_veto: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (cat, rs) in &groups {
        print!("{cat:<width$} {:>5}", rs.len());
        for t in EXPLICIT_SWEEP {
            let n = rs.iter().filter(|r| explicit_under_veto(r, t)).count();
            print!(" {:>6.1}%", pct(n, rs.len()));
            explicit_with_veto
                .entry(cat.clone())
                .or_default()
                .insert(format!("{t}"), pct(n, rs.len()));
        }
        let vetoed = rs.iter().filter(|r| r.vetoed).count();
        println!(" {:>6.1}%", pct(vetoed, rs.len()));
    }

    println!("\nShare judged suggestive (sexy >= t, among pictures not explicit under the rule):");
    print!("{:<width$} {:>5}", "category", "n");
    for t in SUGGESTIVE_SWEEP {
        print!(" {:>7}", format!("t={t}"));
    }
    println!();
    let mut suggestive: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (cat, rs) in &groups {
        print!("{cat:<width$} {:>5}", rs.len());
        for t in SUGGESTIVE_SWEEP {
            let n = rs
                .iter()
                .filter(|r| r.verdict != Verdict::Explicit && r.scores.sexy >= t)
                .count();
            print!(" {:>6.1}%", pct(n, rs.len()));
            suggestive
                .entry(cat.clone())
                .or_default()
                .insert(format!("{t}"), pct(n, rs.len()));
        }
        println!();
    }

    println!("\nSkin share per category (min / median / max):");
    for (cat, rs) in &groups {
        let mut s: Vec<f32> = rs.iter().map(|r| r.skin).collect();
        s.sort_by(f32::total_cmp);
        if let (Some(lo), Some(hi)) = (s.first(), s.last()) {
            println!("{cat:<width$} {lo:.3} / {:.3} / {hi:.3}", s[s.len() / 2]);
        }
    }

    println!("\nColour noise per category (min / median / 90th percentile / max):");
    println!(
        "{:<width$} {:>31}   {:>31}",
        "category", "chroma", "chroma / luma"
    );
    for (cat, rs) in &groups {
        let spread = |f: &dyn Fn(&Row) -> f32| {
            let mut s: Vec<f32> = rs.iter().map(|r| f(r)).collect();
            s.sort_by(f32::total_cmp);
            format!(
                "{:.3} / {:.3} / {:.3} / {:.3}",
                s[0],
                s[s.len() / 2],
                s[s.len() * 9 / 10],
                s[s.len() - 1]
            )
        };
        if !rs.is_empty() {
            println!(
                "{cat:<width$} {:>31}   {:>31}",
                spread(&|r| r.noise.chroma),
                spread(&|r| r.noise.chroma / r.noise.luma.max(1e-3))
            );
        }
    }

    println!("\nHighest porn + hentai per category:");
    for (cat, rs) in &groups {
        let best = rs
            .iter()
            .max_by(|a, b| a.scores.explicit().total_cmp(&b.scores.explicit()));
        if let Some(r) = best {
            println!(
                "  {cat:<width$} {:.4}{} {}",
                r.scores.explicit(),
                if r.vetoed { " (vetoed)" } else { "" },
                r.path.display()
            );
        }
    }

    println!("\nHighest porn + hentai:");
    let mut worst: Vec<&Row> = rows.iter().collect();
    worst.sort_by(|a, b| b.scores.explicit().total_cmp(&a.scores.explicit()));
    for r in worst.iter().take(top) {
        println!(
            "  {:.3} skin {:.3} region {:.3} chroma {:.3} luma {:.3} sexy {:.3} {:<10} {:<20} {}",
            r.scores.explicit(),
            r.skin,
            r.region,
            r.noise.chroma,
            r.noise.luma,
            r.scores.sexy,
            r.verdict.as_str(),
            r.category,
            r.path.display()
        );
    }

    let fixture = fixture_views(&classifier);
    println!(
        "\nThe explicit fixture (tests/fixtures/explicit-by-search.png) under the rule in force:"
    );
    for v in &fixture {
        println!(
            "  {:<30} porn + hentai {:.4} (margin {:+.4})  skin {:.3}  region {:.3}  chroma {:.3}  luma {:.3}{} -> {}",
            v.view,
            v.explicit,
            v.explicit - EXPLICIT_THRESHOLD,
            v.skin,
            v.region,
            v.noise.chroma,
            v.noise.luma,
            if v.vetoed { " (vetoed)" } else { "" },
            v.verdict.as_str()
        );
    }

    if let Some(path) = scores_out {
        let mut tsv = String::from("path\tcategory\torigin\texplicit\tporn\thentai\tsexy\tdrawing\tneutral\tskin\tregion\tchroma\tluma\tvetoed\tverdict\n");
        for r in &rows {
            let s = &r.scores;
            tsv.push_str(&format!(
                "{}\t{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{}\t{}\n",
                r.path.display(),
                r.category,
                r.origin,
                s.explicit(),
                s.porn,
                s.hentai,
                s.sexy,
                s.drawing,
                s.neutral,
                r.skin,
                r.region,
                r.noise.chroma,
                r.noise.luma,
                r.vetoed,
                r.verdict.as_str()
            ));
        }
        std::fs::write(&path, tsv).expect("writing the scores");
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = json {
        let report = Report {
            images: rows.len(),
            rule: Rule {
                explicit_threshold: EXPLICIT_THRESHOLD,
                noise_veto_chroma: NOISE_VETO_CHROMA,
                noise_veto_ratio: NOISE_VETO_RATIO,
                suggestive_threshold: SUGGESTIVE_THRESHOLD,
            },
            explicit,
            explicit_with_veto,
            suggestive,
            verdicts,
            counts,
            fixture,
            rows,
        };
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("JSON"))
            .expect("writing the report");
        eprintln!("wrote {}", path.display());
    }
}
