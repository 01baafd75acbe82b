//! `[identity] person_key`: the workspace's customers linked with its loyalty member list, and
//! support tickets keyed by the member id (a system that never saw the customer id) attached
//! to the person through the link.

use std::collections::HashMap;
use std::fs;

use crate::{crmlens, sample_dir, stderr};

#[test]
fn tickets_keyed_by_member_id_reach_their_customer_through_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    // The workspace in a sub-folder, named relative to where crmlens runs (its folder is then
    // a relative path: the lists must not be looked for under it twice).
    let dir = &tmp.path().join("ws");
    fs::create_dir(dir).unwrap();
    for f in ["customers.csv", "loyalty_members.csv"] {
        fs::copy(sample_dir().join(f), dir.join(f)).unwrap();
    }
    // The truth: each customer's first member id.
    let truth = fs::read_to_string(sample_dir().join("ground_truth_identity.csv")).unwrap();
    let mut member_of: HashMap<String, String> = HashMap::new();
    for l in truth.lines().skip(1) {
        let (m, c) = l.split_once(',').unwrap();
        if !c.is_empty() {
            member_of
                .entry(c.to_string())
                .or_insert_with(|| m.to_string());
        }
    }
    // The sample's tickets as the loyalty system would log them: by member id, members only.
    let tickets = fs::read_to_string(sample_dir().join("support_tickets.ndjson")).unwrap();
    let mut expected: HashMap<String, u64> = HashMap::new();
    let mut out = String::new();
    for line in tickets.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let c = v["customer_id"].as_str().unwrap().to_string();
        let Some(m) = member_of.get(&c) else { continue };
        *expected.entry(c).or_default() += 1;
        let o = v.as_object_mut().unwrap();
        o.remove("customer_id");
        o.insert("member_id".into(), m.clone().into());
        out.push_str(&serde_json::to_string(&v).unwrap());
        out.push('\n');
    }
    fs::write(dir.join("member_tickets.ndjson"), out).unwrap();
    fs::write(
        dir.join("w.toml"),
        "[workspace]\ncustomer_key = \"customer_id\"\nreference_date = \"2025-01-01\"\n\
         [sources.customers]\npath = \"customers.csv\"\n\
         [sources.tickets]\npath = \"member_tickets.ndjson\"\nkey = \"member_id\"\n\
         [identity]\nsources = [{ path = \"loyalty_members.csv\", key = \"member_id\" }]\nperson_key = true\n",
    )
    .unwrap();
    let o = crmlens(
        tmp.path(),
        &[
            "integrate",
            "-w",
            "ws/w.toml",
            "--out",
            "ws/c360.csv",
            "--report-json",
            "ws/report.json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = fs::read_to_string(dir.join("c360.csv")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let id = header.iter().position(|h| *h == "customer_id").unwrap();
    let n = header.iter().position(|h| *h == "tickets").unwrap();
    let got: HashMap<String, u64> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[id].to_string(), f[n].parse::<f64>().unwrap_or(0.0) as u64)
        })
        .collect();
    // Nearly every member customer's tickets arrive (the link finds 98%+ of the members).
    let right = expected
        .iter()
        .filter(|(c, e)| got.get(*c) == Some(e))
        .count() as f64;
    assert!(
        right / expected.len() as f64 >= 0.97,
        "{right} of {}",
        expected.len()
    );
    // Customers who are no member get none.
    let strays = got
        .iter()
        .filter(|(c, t)| !member_of.contains_key(*c) && **t > 0)
        .count();
    assert!(strays <= 5, "{strays} non-members with tickets");
    // The Quality report says how many were linked and how surely.
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "same person (identity)")
        .expect("an identity step");
    let detail = step["detail"].as_str().unwrap();
    assert!(
        detail.contains("records of the linked lists attached to a customer"),
        "{detail}"
    );
    assert!(detail.contains("stayed single"), "{detail}");
    // Its linkage section: per list, records linked and single, against the files and the
    // truth; the accepted pairs by confidence add up.
    let id = &report["identity"];
    let lines = |f: &str| fs::read_to_string(dir.join(f)).unwrap().lines().count() as u64 - 1;
    let inputs = id["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2);
    for (i, f) in inputs.iter().zip(["customers.csv", "loyalty_members.csv"]) {
        assert_eq!(i["name"], f);
        assert_eq!(i["records"].as_u64().unwrap(), lines(f));
        assert_eq!(
            i["linked"].as_u64().unwrap() + i["single"].as_u64().unwrap(),
            lines(f)
        );
    }
    let members_with_customer = truth.lines().skip(1).filter(|l| !l.ends_with(',')).count() as f64;
    let members_linked = inputs[1]["linked"].as_u64().unwrap() as f64;
    assert!(
        (members_linked - members_with_customer).abs() / members_with_customer <= 0.03,
        "{members_linked} members linked, {members_with_customer} in the truth"
    );
    let attached = id["attached"].as_f64().unwrap();
    assert!(
        (attached - members_with_customer).abs() / members_with_customer <= 0.03,
        "{attached} attached, {members_with_customer} in the truth"
    );
    let bands: u64 = id["confidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[1].as_u64().unwrap())
        .sum();
    assert_eq!(bands, id["accepted_pairs"].as_u64().unwrap());
    assert!(id["mean_probability"].as_f64().unwrap() > 0.9);
    assert!(id["people"].as_u64().unwrap() < lines("customers.csv") + lines("loyalty_members.csv"));
}
