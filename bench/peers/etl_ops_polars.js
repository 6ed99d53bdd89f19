// Peer for bench/etl_ops_bench.py: its pipeline in Polars (nodejs-polars, all cores), written
// as a Polars user would: expressions, window functions (`over`) for the target encoding's
// sums, left joins for the fitted mappings (replaceStrict with tens of thousands of values took
// 2.3 GB and seconds per column in 0.26.1), the rows put back in order once at the end. Same
// steps and definitions as etl_ops_pandas.py:
//
//   --side TABLE       a left join with the side table on C11 (one row per key), which adds
//                      side_price (fillNull(0) -> log1p) and side_brand (ids like C1..C26)
//   I1..I13            fillNull(0) -> clip at 0 -> log1p
//   C1..C26            ids by train frequency (0 missing, 1 rare < 3 or unseen, 2.. by
//                      descending count, ties by ascending value: the hex texts all have 8
//                      digits, so text order is value order)
//   I5.q16, I2.fixed   quantile (16, the value after each inverted-CDF quantile) and fixed
//                      buckets, 0 missing
//   C1_x_C2, C5_x_C14  aiok's hashed_cross (SplitMix64 over the values): Polars has no such
//                      hash, so it is computed in JavaScript (BigInt) per distinct pair
//   LARGE.count/.te    train counts; out-of-fold target encoding (5 folds from aiok's hash of
//                      the row number, computed in JavaScript: about 1 s for 1.7M rows)
//
// Writes OUT/<split>.label.u8, OUT/<split>.dense.f32, OUT/<split>.cat.i32 (an aiok shard's
// row-major blocks). Run from third_party/bench-node (scripts/setup.sh --bench).
//
// usage: node etl_ops_polars.js --input train.txt --out DIR [--side side.tsv]
"use strict";
const fs = require("fs");
const path = require("path");
const pl = require(path.join(process.cwd(), "node_modules", "nodejs-polars"));

const DENSE = Array.from({ length: 13 }, (_, i) => `I${i + 1}`);
const CATS = Array.from({ length: 26 }, (_, i) => `C${i + 1}`);
const LARGE = ["C3", "C4", "C10", "C12", "C16", "C21", "C24", "C26"];
const CROSSES = [[["C1", "C2"], 200000n], [["C5", "C14"], 20000n]];
const FIXED = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const QUANTILES = 16, FOLDS = 5, SMOOTHING = 20, THRESHOLD = 3;
const SIDE_KEY = "C11";
const M = (1n << 64n) - 1n;

function mix64(x) {
  x = (x + 0x9e3779b97f4a7c15n) & M;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & M;
  return x ^ (x >> 31n);
}

function args() {
  const a = process.argv.slice(2);
  const get = (k) => (a.includes(k) ? a[a.indexOf(k) + 1] : undefined);
  return { input: get("--input"), out: get("--out"), side: get("--side") };
}

// Ids by train frequency: the fitted mapping is joined on (lazily, like every join here: one
// plan collected at the end; eager joins each copied the table, 2.4 GB for 200k rows).
function categorify(lf, train, c) {
  const kept = train
    .select(c, "row")  // one column, not a copy of the table per column
    .filter(pl.col(c).isNotNull())
    .groupBy(c)
    .agg(pl.col("row").count().alias("n"))
    .filter(pl.col("n").gtEq(THRESHOLD))
    .sort(["n", c], [true, false])
    .withRowIndex("index")
    .select(pl.col(c), pl.col("index").add(2).cast(pl.Int32).alias(`${c}__id`));
  return lf.join(kept.lazy(), { on: c, how: "left" });
}

function categorifyExpr(c) {
  return pl
    .when(pl.col(c).isNull())
    .then(pl.lit(0))
    .otherwise(pl.col(`${c}__id`).fillNull(1))
    .cast(pl.Int32)
    .alias(c);
}

function quantileBoundaries(train, c) {
  const counts = train
    .select(c, "row")
    .filter(pl.col(c).isNotNull())
    .groupBy(c)
    .agg(pl.col("row").count().alias("n"))
    .sort(c);
  const values = counts.getColumn(c).toArray();
  const n = counts.getColumn("n").toArray();
  const total = n.reduce((s, v) => s + v, 0);
  const boundaries = [];
  let seen = 0, k = 1;
  for (let i = 0; i < values.length && k < QUANTILES; ++i) {
    seen += n[i];
    while (k < QUANTILES && seen * QUANTILES >= k * total) {
      if (i + 1 < values.length && (!boundaries.length || values[i + 1] > boundaries.at(-1)))
        boundaries.push(values[i + 1]);
      ++k;
    }
  }
  return boundaries;
}

function bucketize(c, boundaries, name) {
  let id = pl.lit(1);
  for (const b of boundaries) id = id.add(pl.col(c).gtEq(b).cast(pl.Int32));
  return pl.when(pl.col(c).isNull()).then(pl.lit(0)).otherwise(id).cast(pl.Int32).alias(name);
}

// aiok's key of a hex text (missing: -1), and the cross of a distinct pair.
const key = (text) => (text === "" ? M : BigInt("0x" + text));
function crossId(texts, buckets) {
  let h = 0x5bd1e9955bd1e995n;
  let any = false;
  for (const t of texts) {
    any = any || t !== "";
    h = mix64(h ^ key(t));
  }
  return any ? Number(1n + (h % buckets)) : 0;
}

function hashedCross(df, lf, [a, b], buckets, name) {
  const pairs = df.select(pl.col(a).fillNull(""), pl.col(b).fillNull("")).unique();
  const as = pairs.getColumn(a).toArray();
  const bs = pairs.getColumn(b).toArray();
  const ids = as.map((x, i) => crossId([x, bs[i]], buckets));
  const table = pl.DataFrame({ [a]: as, [b]: bs, [name]: pl.Series(name, ids, pl.Int32) });
  return lf
    .withColumns(pl.col(a).fillNull("").alias(`${a}__key`), pl.col(b).fillNull("").alias(`${b}__key`))
    .join(table.rename({ [a]: `${a}__key`, [b]: `${b}__key` }).lazy(), {
      on: [`${a}__key`, `${b}__key`],
      how: "left",
    })
    .drop([`${a}__key`, `${b}__key`]);
}

function countEncode(lf, train, c) {
  const counts = train
    .select(c, "row")
    .filter(pl.col(c).isNotNull())
    .groupBy(c)
    .agg(pl.col("row").count().cast(pl.Float64).alias(`${c}.count`));
  return lf.join(counts.lazy(), { on: c, how: "left" });
}

// Train rows from the other folds (window sums over the value and over (value, fold)),
// the others from every train row (a mapping), missing as a value of its own.
function targetEncode(df, train, c, folds, day6) {
  const foldSum = new Array(FOLDS).fill(0), foldCount = new Array(FOLDS).fill(0);
  const labels = train.getColumn("label").toArray();
  for (let r = 0; r < day6; ++r) {
    foldSum[folds[r]] += labels[r];
    foldCount[folds[r]] += 1;
  }
  const totalSum = foldSum.reduce((s, v) => s + v, 0);
  const prior = totalSum / day6;
  const foldPrior = foldSum.map((s, f) => (totalSum - s) / (day6 - foldCount[f]));
  const isTrain = pl.col("row").lt(day6);
  const y = pl.when(isTrain).then(pl.col("label")).otherwise(pl.lit(0)).cast(pl.Float64);
  const n = isTrain.cast(pl.Float64);
  const otherSum = y.sum().over(c).sub(y.sum().over([c, "fold"]));
  const otherCount = n.sum().over(c).sub(n.sum().over([c, "fold"]));
  const fp = pl.col("fold").replaceStrict([0, 1, 2, 3, 4], foldPrior, pl.lit(0), pl.Float64);
  const outOfFold = otherSum.add(fp.mul(SMOOTHING)).div(otherCount.add(SMOOTHING));
  const full = y.sum().over(c).add(prior * SMOOTHING).div(n.sum().over(c).add(SMOOTHING));
  // A value no train row has: the prior (its window sums are 0 and 0: (0 + p s) / s = p).
  return pl.when(isTrain).then(outOfFold).otherwise(full).alias(`${c}.te`);
}

function main() {
  const { input, out, side } = args();
  const names = ["label", ...DENSE, ...CATS];
  const dtypes = {};
  names.forEach((n, i) => (dtypes[`column_${i + 1}`] = i === 0 ? pl.Int32 : i <= 13 ? pl.Float64 : pl.Utf8));
  // readCSV takes a path only when it ends in .csv or .tsv (anything else is read as the CSV
  // text itself): Criteo's train.txt is given a .tsv name.
  fs.mkdirSync(out, { recursive: true });
  let file = input;
  if (!/\.(tsv|csv)$/.test(input)) {
    file = path.join(out, "input.tsv");
    fs.rmSync(file, { force: true });
    fs.symlinkSync(path.resolve(input), file);
  }
  let df = pl.readCSV(file, { sep: "\t", hasHeader: false, dtypes });
  df = df.rename(Object.fromEntries(names.map((n, i) => [`column_${i + 1}`, n])));
  const rows = df.height;
  const day6 = Math.floor((rows * 6) / 7);
  const validEnd = day6 + Math.floor((rows - day6) / 2);
  df = df.withRowIndex("row");
  // Folds of the train rows by aiok's HashPair(seed 0, row); -1 for the others.
  const seed = mix64(0n);
  const folds = new Int32Array(rows).fill(-1);
  for (let r = 0; r < day6; ++r)
    folds[r] = Number(mix64(seed ^ ((BigInt(r) * 0xd6e8feb86659fd93n) & M)) % 5n);
  df = df.withColumns(pl.Series("fold", folds, pl.Int32));
  const train = df.filter(pl.col("row").lt(day6));

  let lf = df.lazy();
  let sideTable = null;
  if (side) {
    sideTable = pl.readCSV(side, {
      sep: "\t",
      hasHeader: true,
      dtypes: { [SIDE_KEY]: pl.Utf8, side_price: pl.Float64, side_brand: pl.Utf8 },
    });
    lf = lf.join(sideTable.lazy(), { on: SIDE_KEY, how: "left" });
  }
  for (const c of CATS) lf = categorify(lf, train, c);
  if (side) {
    // The brand's dictionary from the train rows' brands (their keys joined to the table).
    const trainBrands = train
      .select(SIDE_KEY, "row")
      .join(sideTable.select(SIDE_KEY, "side_brand"), { on: SIDE_KEY, how: "left" });
    lf = categorify(lf, trainBrands, "side_brand");
  }
  for (const c of LARGE) lf = countEncode(lf, train, c);
  for (const [pair, buckets] of CROSSES) lf = hashedCross(df, lf, pair, buckets, pair.join("_x_"));
  lf = lf.sort("row");  // joins need not keep the rows' order
  const denseExprs = DENSE.map((c) =>
    pl.when(pl.col(c).fillNull(0).lt(0)).then(pl.lit(0)).otherwise(pl.col(c).fillNull(0))
      .cast(pl.Float64).log1p().alias(c));
  if (side) denseExprs.push(pl.col("side_price").fillNull(0).cast(pl.Float64).log1p().alias("side_price"));
  const catExprs = CATS.map(categorifyExpr);
  if (side) catExprs.push(categorifyExpr("side_brand"));
  catExprs.push(bucketize("I5", quantileBoundaries(train, "I5"), "I5.q16"));
  catExprs.push(bucketize("I2", FIXED, "I2.fixed"));
  const countExprs = LARGE.map((c) => pl.col(`${c}.count`).fillNull(0));
  const teExprs = LARGE.map((c) => targetEncode(df, train, c, folds, day6));
  const crossNames = CROSSES.map(([pair]) => pair.join("_x_"));
  const result = lf.select(
    pl.col("label"),
    ...denseExprs,
    ...countExprs,
    ...teExprs,
    ...catExprs,
    ...crossNames.map((c) => pl.col(c)),
  ).collectSync();
  const sideDense = side ? ["side_price"] : [];
  const sideCats = side ? ["side_brand"] : [];
  const denseNames = [...DENSE, ...sideDense, ...LARGE.map((c) => `${c}.count`), ...LARGE.map((c) => `${c}.te`)];
  const catNames = [...CATS, ...sideCats, "I5.q16", "I2.fixed", ...crossNames];
  const denseColumns = denseNames.map((c) => result.getColumn(c).toTypedArray());
  const catColumns = catNames.map((c) => result.getColumn(c).cast(pl.Int32).toTypedArray());
  const label = result.getColumn("label").cast(pl.UInt8).toTypedArray();

  fs.mkdirSync(out, { recursive: true });
  for (const [split, begin, end] of [["train", 0, day6], ["valid", day6, validEnd], ["test", validEnd, rows]]) {
    const n = end - begin;
    const dense = new Float32Array(n * denseColumns.length);
    denseColumns.forEach((col, j) => {
      for (let r = 0; r < n; ++r) dense[r * denseColumns.length + j] = col[begin + r];
    });
    const cats = new Int32Array(n * catColumns.length);
    catColumns.forEach((col, j) => {
      for (let r = 0; r < n; ++r) cats[r * catColumns.length + j] = col[begin + r];
    });
    fs.writeFileSync(path.join(out, `${split}.label.u8`), Buffer.from(label.buffer, label.byteOffset + begin, n));
    fs.writeFileSync(path.join(out, `${split}.dense.f32`), Buffer.from(dense.buffer));
    fs.writeFileSync(path.join(out, `${split}.cat.i32`), Buffer.from(cats.buffer));
  }
}

main();
