//! Tier 1: the IOC core inside this test process, loading the real `db/`
//! files through the real `tests/st-selftest.cmd`. One IOC per process, so
//! this file holds a single test that walks through the paths in order.
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use epics_pvxs_sys::{Alarm, AlarmStatus, EnumIndex, EpicsError, Field, Severity, Update, prepare};
use twin_ioc::config::Config;
use twin_ioc::prefix::Prefix;
use twin_ioc::router::Router;
use twin_ioc::selftest::Selftest;

/// A loopback port free for both TCP and UDP (CA and PVA use both).
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `f` until it returns true or two seconds pass.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selftest_device_in_process() {
    std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).expect("repo root");
    let config =
        Config::isolated("config/bessy2/profile.toml", std::env::temp_dir(), [free_port(), free_port(), free_port()]);
    let env = config.ioc_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let prepared = prepare(&env).expect("prepare");
    assert!(matches!(prepare(&[]), Err(EpicsError::AlreadyStarted)), "second IOC in one process must be refused");
    prepared.set_env("P", "INPROC:").expect("env");
    let top = std::env::current_dir().expect("cwd");
    prepared.set_env("TOP", &top.display().to_string()).expect("env");
    let acf = twin_ioc::access::acf_file(&config.access, &top).expect("access security file");
    prepared.set_env("TWIN_ACF", &acf.display().to_string()).expect("env");
    let mut ioc = prepared.run_script("tests/st-selftest.cmd".as_ref(), "P=INPROC:").expect("st-selftest.cmd");
    let writes = ioc.take_writes().expect("write stream");
    assert!(ioc.take_writes().is_none());

    let mut selftest = Selftest::attach(&ioc, &Prefix::new("INPROC:")).expect("attach").expect("records loaded");
    tokio::spawn(selftest.ticker());
    let mut router = Router::default();
    router.add_selftest(selftest);
    tokio::spawn(router.run(writes));

    let pv = |s: &str| format!("INPROC:TWIN:SELFTEST:{s}");
    let setpoint: Field<f64> = ioc.field(&pv("SETPOINT")).unwrap();
    let echo: Field<f64> = ioc.field(&pv("ECHO")).unwrap();
    let writes: Field<i32> = ioc.field(&pv("WRITES")).unwrap();

    // Typed handles are checked once, at resolution.
    assert!(matches!(ioc.field::<f64>(&pv("I16")), Err(EpicsError::WrongType { .. })));
    assert!(matches!(ioc.field::<[f64]>(&pv("NAMES")), Err(EpicsError::WrongType { .. })));
    assert!(matches!(ioc.field::<f64>(&pv("NOPE")), Err(EpicsError::NoRecord(_))));

    // Write path: the value reaches Rust, which echoes it and counts.
    setpoint.put(&3.25).unwrap();
    eventually("echo of 3.25", || echo.get().unwrap() == 3.25).await;
    assert_eq!(writes.get().unwrap(), 1);

    // DRVH clamping happens before Rust sees the value.
    setpoint.put(&50.0).unwrap();
    eventually("clamped echo", || echo.get().unwrap() == 10.0).await;
    assert_eq!(setpoint.get().unwrap(), 10.0);

    // Arrays, enums and strings on the update path.
    let fill: Field<i32> = ioc.field(&pv("FILL")).unwrap();
    let i16s: Field<[i16]> = ioc.field(&pv("I16")).unwrap();
    let names: Field<[String]> = ioc.field(&pv("NAMES")).unwrap();
    let state: Field<EnumIndex> = ioc.field(&pv("STATE")).unwrap();
    fill.put(&5).unwrap();
    eventually("filled arrays", || i16s.get().unwrap().len() == 2048).await;
    let expected: Vec<i16> = (0..2048).map(|k: i32| (k * 5) as i16).collect();
    assert_eq!(i16s.get().unwrap(), expected);
    assert_eq!(names.get().unwrap()[7], "ROW7-5");
    assert_eq!(state.get().unwrap(), EnumIndex(1));

    // A string write, and iocsh as an operator would use it.
    let msg: Field<str> = ioc.field(&pv("MSG")).unwrap();
    let label: Field<str> = ioc.field(&pv("LABEL")).unwrap();
    msg.put("hello twin").unwrap();
    eventually("label", || label.get().unwrap() == "hello twin").await;
    ioc.shell(&format!("dbpf {} fromShell", pv("MSG"))).unwrap();
    eventually("label via dbpf", || label.get().unwrap() == "fromShell").await;

    // Posting an alarm with a message sets SEVR, STAT and AMSG.
    let alarm = Alarm::new(Severity::Major, AlarmStatus::Soft, "posted from the test");
    echo.post(&1.0, &Update::default().with_alarm(alarm)).unwrap();
    let sevr: Field<EnumIndex> = ioc.field(&format!("{}.SEVR", pv("ECHO"))).unwrap();
    let amsg: Field<str> = ioc.field(&format!("{}.AMSG", pv("ECHO"))).unwrap();
    assert_eq!(sevr.get().unwrap(), EnumIndex(Severity::Major as u16));
    assert_eq!(amsg.get().unwrap(), "posted from the test");

    // Too many elements are refused before reaching EPICS.
    let too_long = vec![0i16; 4096];
    assert!(matches!(i16s.post(&too_long, &Update::default()), Err(EpicsError::TooLong { .. })));
}
