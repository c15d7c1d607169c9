//! Alarm limits and archive policies from the profile's operations
//! section, applied to the generated records.
use super::generate::{DbFile, num};
use super::{Record, RecordType};
use crate::access::AccessGroup;
use crate::profile::{Archive, ArchivePolicy, Limits};

/// The info tag an archiver reads: `info(archive, "<METHOD> <period s>")`.
pub const ARCHIVE_INFO: &str = "archive";

/// The record with the alarm limits, their severities and the hysteresis.
pub(super) fn limits(r: Record, l: &Limits) -> Record {
    let r = l.fields().into_iter().fold(r, |r, (f, v, sf, sev)| r.field(f, num(v)).field(sf, sev.as_str()));
    if l.fields().is_empty() { r } else { r.field("HYST", num(l.hyst)) }
}

/// The record tagged for archiving with `policy`; analog records get the
/// archive deadband (ADEL).
pub(super) fn archived(r: Record, policy: &ArchivePolicy) -> Record {
    let analog = matches!(r.kind, RecordType::Ai | RecordType::Ao | RecordType::Calc);
    let r = match (policy.deadband, analog) {
        (Some(d), true) => r.field("ADEL", num(d)),
        _ => r,
    };
    r.info(ARCHIVE_INFO, format!("{} {}", policy.method.as_str(), num(policy.period_s)))
}

fn is_output(r: &Record) -> bool {
    r.get("DTYP") == Some("Twin")
}

/// The family policy of a record in a file, or None: not archived (hidden
/// truth and per-element records in magnets.db, names and labels, the
/// optics at every element, derived deviations).
fn policy<'a>(file: &str, r: &Record, a: &'a Archive) -> Option<&'a ArchivePolicy> {
    let text_array = r.kind == RecordType::Waveform && r.get("FTVL") == Some("STRING");
    if text_array || r.kind == RecordType::Calc || r.get("ASG") == Some(AccessGroup::Instruct.asg()) {
        return None;
    }
    match (file, r.kind) {
        ("magnets.db", _) => None,
        (_, _) if is_output(r) => Some(&a.setpoints),
        ("power_converters.db", _) => Some(&a.readbacks),
        ("diagnostics.db", RecordType::Waveform) => Some(&a.orbit),
        ("diagnostics.db", _) => Some(&a.diagnostics),
        ("model.db", RecordType::Waveform) => None,
        _ => Some(&a.twin),
    }
}

/// Tags every record of the files that has no archive tag yet.
pub(super) fn archive(files: &mut [DbFile], a: &Archive) {
    for file in files {
        for section in &mut file.sections {
            for r in &mut section.records {
                if r.info.iter().any(|(n, _)| *n == ARCHIVE_INFO) {
                    continue;
                }
                if let Some(p) = policy(file.name, r, a) {
                    *r = archived(r.clone(), p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{SamplingMethod, Severity};

    #[test]
    fn limits_become_fields_with_severities_and_hysteresis() {
        let l = Limits { low: Some(295.0), lolo: Some(250.0), hyst: 1.0, ..Limits::default() };
        let r = limits(Record::new(RecordType::Ai, "C"), &l);
        assert_eq!(r.get("LOW"), Some("295"));
        assert_eq!(r.get("LSV"), Some(Severity::Minor.as_str()));
        assert_eq!(r.get("LOLO"), Some("250"));
        assert_eq!(r.get("LLSV"), Some("MAJOR"));
        assert_eq!(r.get("HYST"), Some("1"));
        assert_eq!(r.get("HIGH"), None);
    }

    #[test]
    fn analog_records_get_the_deadband_others_only_the_tag() {
        let p = ArchivePolicy { method: SamplingMethod::Monitor, period_s: 1.0, deadband: Some(0.01) };
        let ai = archived(Record::new(RecordType::Ai, "A"), &p);
        assert_eq!(ai.get("ADEL"), Some("0.01"));
        assert_eq!(ai.info, vec![(ARCHIVE_INFO, "MONITOR 1".to_string())]);
        let bi = archived(Record::new(RecordType::Bi, "B"), &p);
        assert_eq!(bi.get("ADEL"), None);
    }
}
