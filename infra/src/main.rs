//! `leadline-local`: the whole stack in the foreground. Started by `infra/local-stack.sh`, which
//! installs moto and builds the functions first. Ctrl-C stops everything it started.
//!
//! Environment (all optional): `LEADLINE_PORT` (8080), `LEADLINE_RUNTIME_PORT` (port + 1),
//! `LEADLINE_MOTO_PORT` (port + 2), `LEADLINE_AWS_ENDPOINT` (use a running moto instead of
//! starting one), `LEADLINE_BIN_DIR` (target/debug), `LEADLINE_STATE_DIR` (.local),
//! `LEADLINE_VENV` (.venv), `LEADLINE_CONSOLE_DIR` (console/dist, served at `/console/`),
//! `LEADLINE_RETENTION_INTERVAL_SECONDS` (3600), `LEADLINE_VISIBILITY_TIMEOUT_SECONDS` (30),
//! `LEADLINE_CONSOLE_ORIGIN` (the origin granted CORS, [`infra::DEFAULT_CONSOLE_ORIGIN`]),
//! `LEADLINE_INSTANCES` (processes per function, as
//! Lambda scales out: `api=4,webhook=4,inbound=4` and 1 for the others unless listed, e.g.
//! `LEADLINE_INSTANCES=api=8,send=2`; `retention` always 1 — see `infra::instances`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use infra::bootstrap::{bootstrap, Resources};
use infra::gateway::Gateway;
use infra::instances::Instances;
use infra::poller::{Invoke, Poller};
use infra::processes::{open_log, spawn, supervise, ProcessSpec};
use infra::random_hex;
use infra::recorder::{self, LogicalNames, WriteGate};
use infra::runtime::{FunctionSpec, Outcome, Runtime};
use infra::sandbox::{Number, Page, Sandbox};
use serde_json::{json, Value};
use shared::config::Env;
use tokio::sync::watch;

/// The functions, with the invocation timeout of each (as in `template.yaml`).
const FUNCTIONS: &[(&str, Duration)] = &[
    ("webhook", Duration::from_secs(10)),
    ("api", Duration::from_secs(30)),
    ("inbound", Duration::from_secs(60)),
    ("send", Duration::from_secs(60)),
    ("suggest", Duration::from_secs(60)),
    ("import", Duration::from_secs(300)),
    ("retention", Duration::from_secs(300)),
    ("realtime", Duration::from_secs(10)),
];

/// `infra/moto_server.py`: moto's server with DynamoDB transactions as DynamoDB's (atomic, and
/// without copying whole tables).
const MOTO_LAUNCHER: &str = include_str!("../moto_server.py");

/// Demo values written to `.local/demo.json` (Meta-shaped ids of the sandbox).
const DEMO_PHONE_NUMBER_ID: &str = "106540352242922";
const DEMO_DISPLAY_PHONE_NUMBER: &str = "15550100001";
const DEMO_WABA_ID: &str = "102290129340398";
const DEMO_PAGE_ID: &str = "109876543210987";

#[derive(Debug)]
struct LocalConfig {
    port: u16,
    runtime_port: u16,
    moto_port: u16,
    aws_endpoint: Option<String>,
    bin_dir: PathBuf,
    state_dir: PathBuf,
    venv: PathBuf,
    console_dir: PathBuf,
    retention_interval: Duration,
    timers_interval: Duration,
    visibility_timeout: u32,
    instances: Instances,
}

impl LocalConfig {
    fn from_env() -> anyhow::Result<Self> {
        let env = Env::process();
        let port: u16 = env.parsed_or("LEADLINE_PORT", 8080)?;
        Ok(Self {
            port,
            runtime_port: env.parsed_or("LEADLINE_RUNTIME_PORT", port.saturating_add(1))?,
            moto_port: env.parsed_or("LEADLINE_MOTO_PORT", port.saturating_add(2))?,
            aws_endpoint: env.optional("LEADLINE_AWS_ENDPOINT"),
            bin_dir: env.optional("LEADLINE_BIN_DIR").unwrap_or_else(|| "target/debug".into()).into(),
            state_dir: env.optional("LEADLINE_STATE_DIR").unwrap_or_else(|| ".local".into()).into(),
            venv: env.optional("LEADLINE_VENV").unwrap_or_else(|| ".venv".into()).into(),
            console_dir: env.optional("LEADLINE_CONSOLE_DIR").unwrap_or_else(|| "console/dist".into()).into(),
            retention_interval: Duration::from_secs(
                env.parsed_or("LEADLINE_RETENTION_INTERVAL_SECONDS", 3600)?,
            ),
            // The template's schedule runs the timers sweep every minute; locally more often,
            // so a snooze wakes within seconds of its time.
            timers_interval: Duration::from_secs(env.parsed_or("LEADLINE_TIMERS_INTERVAL_SECONDS", 15)?),
            visibility_timeout: env.parsed_or("LEADLINE_VISIBILITY_TIMEOUT_SECONDS", 30)?,
            instances: Instances::parse(
                env.optional("LEADLINE_INSTANCES").as_deref(),
                &FUNCTIONS.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            )?,
        })
    }
}

/// Invokes a consumer function through the runtime emulator.
struct FunctionConsumer {
    runtime: Arc<Runtime>,
    name: &'static str,
}

impl Invoke for FunctionConsumer {
    async fn invoke(&self, event: Value) -> anyhow::Result<Value> {
        match self.runtime.invoke(self.name, Bytes::from(event.to_string())).await? {
            Outcome::Response(answer) => Ok(serde_json::from_slice(&answer)?),
            Outcome::Error(error) => {
                anyhow::bail!("{} failed: {}", self.name, String::from_utf8_lossy(&error))
            }
        }
    }
}

struct Secrets {
    operator_key: String,
    app_secret: String,
    verify_token: String,
}

fn function_env(
    name: &str,
    instance: usize,
    config: &LocalConfig,
    endpoint: &str,
    resources: &Resources,
    secrets: &Secrets,
) -> Vec<(String, String)> {
    let mut env: Vec<(&str, String)> = vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{}/fn/{name}/{instance}", config.runtime_port)),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        // One stream per execution environment, as on Lambda.
        ("AWS_LAMBDA_LOG_STREAM_NAME", format!("local-{instance}")),
        ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())),
        ("TABLE_NAME", resources.table_name.clone()),
    ];
    // Every function that reads or erases people's data holds the key table.
    if matches!(name, "api" | "inbound" | "send" | "suggest" | "retention" | "import") {
        env.push(("KEY_TABLE_NAME", resources.key_table_name.clone()));
    }
    // Every function that records the contact center's events sends the console's live notices.
    if matches!(name, "api" | "inbound" | "retention") {
        env.push(("LIVE_QUEUE_URL", resources.live.url.clone()));
    }
    let graph = format!("http://127.0.0.1:{}/_sandbox/graph", config.port);
    // The one AI provider offered locally: the sandbox, which records what it receives.
    let ai_providers = format!("sandbox=http://127.0.0.1:{}/_sandbox/ai/v1", config.port);
    // Each function gets what template.yaml gives it, nothing more.
    match name {
        "webhook" => env.extend([
            ("META_APP_SECRET", secrets.app_secret.clone()),
            ("META_VERIFY_TOKEN", secrets.verify_token.clone()),
            ("INBOUND_QUEUE_URL", resources.inbound.url.clone()),
        ]),
        "api" => env.extend([
            ("KMS_KEY_ID", resources.kms_key_id.clone()),
            ("OPERATOR_KEY_SHA256", shared::kernel::digest::hex_sha256(&secrets.operator_key)),
            ("GRAPH_API_BASE_URL", graph.clone()),
            ("OUTBOUND_QUEUE_URL", resources.outbound.url.clone()),
            ("SUGGEST_QUEUE_URL", resources.suggest.url.clone()),
            ("IMPORT_QUEUE_URL", resources.import.url.clone()),
            ("AI_PROVIDERS", ai_providers.clone()),
            (
                "CONSOLE_ORIGIN",
                std::env::var("LEADLINE_CONSOLE_ORIGIN")
                    .unwrap_or_else(|_| infra::DEFAULT_CONSOLE_ORIGIN.to_owned()),
            ),
        ]),
        "inbound" => env.extend([
            ("KMS_KEY_ID", resources.kms_key_id.clone()),
            ("GRAPH_API_BASE_URL", graph.clone()),
            ("OUTBOUND_QUEUE_URL", resources.outbound.url.clone()),
            ("SUGGEST_QUEUE_URL", resources.suggest.url.clone()),
        ]),
        "send" => {
            // The outbound poller runs as many invocations at once as send has instances: each
            // keeps that share of the limit (the template's SendConcurrency).
            env.extend([
                ("KMS_KEY_ID", resources.kms_key_id.clone()),
                ("GRAPH_API_BASE_URL", graph),
                ("SEND_INSTANCES", config.instances.of("send").to_string()),
            ]);
            // Tests send bursts to one person: they may shorten Meta's 6 s pair interval.
            if let Ok(interval) = std::env::var("LEADLINE_PAIR_INTERVAL_MS") {
                env.push(("PAIR_INTERVAL_MS", interval));
            }
        }
        "suggest" => {
            env.extend([("KMS_KEY_ID", resources.kms_key_id.clone()), ("AI_PROVIDERS", ai_providers)])
        }
        // Locally only: the timers job honours an `as_of` ahead of the clock (auto-resolve e2e).
        // `inbound.fifo`: the timers job hands chatbot flow timeouts to inbound.
        "retention" => env.extend([
            ("KMS_KEY_ID", resources.kms_key_id.clone()),
            ("TIMERS_ALLOW_AS_OF", "1".to_owned()),
            ("INBOUND_QUEUE_URL", resources.inbound.url.clone()),
        ]),
        "import" => env.push(("KMS_KEY_ID", resources.kms_key_id.clone())),
        // Posts to the sockets of the gateway's `/live` through its Management API stand-in.
        "realtime" => env.extend([
            ("KMS_KEY_ID", resources.kms_key_id.clone()),
            ("LIVE_MANAGEMENT_ENDPOINT", format!("http://127.0.0.1:{}", config.port)),
        ]),
        _ => {}
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

async fn wait_for_aws(aws: &aws_config::SdkConfig) -> anyhow::Result<()> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let started = Instant::now();
    loop {
        match sqs.list_queues().send().await {
            Ok(_) => return Ok(()),
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(error) => return Err(anyhow::Error::new(error).context("moto did not answer within 60 s")),
        }
    }
}

async fn call_api(
    gateway: &Gateway,
    method: Method,
    path: &str,
    key: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {key}"))?);
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let response =
        gateway.invoke_http("api", &method, &path.parse()?, &headers, &Bytes::from(body.to_string())).await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await?;
    anyhow::ensure!(
        status.is_success(),
        "{method} {path} answered {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(if status == StatusCode::NO_CONTENT { Value::Null } else { serde_json::from_slice(&bytes)? })
}

async fn create_demo_tenant(
    gateway: &Gateway,
    config: &LocalConfig,
    secrets: &Secrets,
) -> anyhow::Result<Value> {
    let created =
        call_api(gateway, Method::POST, "/v1/tenants", &secrets.operator_key, json!({"name": "Demo Tenant"}))
            .await?;
    let api_key = created["api_key"].as_str().context("no api_key")?.to_owned();
    // The sandbox Graph API knows the demo's number and Page, for their tokens only, as Graph
    // would: the API verifies both before it connects them.
    let access_token = format!("EAALOCAL{}", random_hex(24)?);
    gateway.sandbox.register_number(Number {
        phone_number_id: DEMO_PHONE_NUMBER_ID.to_owned(),
        display_phone_number: DEMO_DISPLAY_PHONE_NUMBER.to_owned(),
        waba_id: DEMO_WABA_ID.to_owned(),
        access_token: access_token.clone(),
    });
    let page_access_token = format!("EAAPAGE{}", random_hex(24)?);
    gateway.sandbox.register_page(Page {
        page_id: DEMO_PAGE_ID.to_owned(),
        access_token: page_access_token.clone(),
        name: Some("Demo Page".to_owned()),
    });
    call_api(
        gateway,
        Method::PUT,
        "/v1/whatsapp",
        &api_key,
        json!({
            "phone_number_id": DEMO_PHONE_NUMBER_ID,
            "display_phone_number": DEMO_DISPLAY_PHONE_NUMBER,
            "waba_id": DEMO_WABA_ID,
            "access_token": access_token,
        }),
    )
    .await?;
    call_api(
        gateway,
        Method::PUT,
        "/v1/leadads",
        &api_key,
        json!({"page_id": DEMO_PAGE_ID, "page_access_token": page_access_token}),
    )
    .await?;
    let (queues, agents) = create_demo_contact_center(gateway, &api_key).await?;
    let flow = create_demo_flow(gateway, &api_key, &queues).await?;
    Ok(json!({
        "base_url": format!("http://127.0.0.1:{}", config.port),
        "operator_key": secrets.operator_key,
        "tenant_id": created["tenant_id"],
        "api_key": api_key,
        "app_secret": secrets.app_secret,
        "verify_token": secrets.verify_token,
        "phone_number_id": DEMO_PHONE_NUMBER_ID,
        "display_phone_number": DEMO_DISPLAY_PHONE_NUMBER,
        "waba_id": DEMO_WABA_ID,
        "page_id": DEMO_PAGE_ID,
        "queues": queues,
        "agents": agents,
        "flow": flow,
    }))
}

/// The demo's published welcome flow (contract.md "Contact center"): the domain's fixture with
/// the demo's `Sales` and `Support` queue ids, created and published through the API. Returns
/// `{id, name}` for `demo.json`.
async fn create_demo_flow(gateway: &Gateway, api_key: &str, queues: &[Value]) -> anyhow::Result<Value> {
    let id_of = |name: &str| {
        queues
            .iter()
            .find(|q| q["name"] == name)
            .and_then(|q| q["id"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let definition = shared::domain::flows::welcome_flow(&id_of("Sales"), &id_of("Support"))
        .map_err(|problems| anyhow::anyhow!("the welcome flow does not validate: {problems:?}"))?;
    let created =
        call_api(gateway, Method::POST, "/v1/flows", api_key, serde_json::to_value(&definition)?).await?;
    let id = created["id"].as_str().context("the created flow has no id")?.to_owned();
    call_api(gateway, Method::POST, &format!("/v1/flows/{id}/publish"), api_key, json!({})).await?;
    Ok(json!({"id": id, "name": created["name"]}))
}

/// The demo's contact center: business hours at every hour of the week, the queues `Sales` and
/// `Support`, and two agents with random passwords working both. Returns the queues
/// (`{id, name}`) and the agents (`{user_id, email, password}`) for `demo.json`.
async fn create_demo_contact_center(
    gateway: &Gateway,
    api_key: &str,
) -> anyhow::Result<(Vec<Value>, Vec<Value>)> {
    let tenant = call_api(gateway, Method::GET, "/v1/tenant", api_key, Value::Null).await?;
    let mut settings = tenant["settings"].clone();
    let always: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| json!({"day": day, "open": "00:00", "close": "24:00"}))
        .collect();
    settings["business_hours"] = Value::Array(always);
    call_api(gateway, Method::PATCH, "/v1/tenant", api_key, json!({"settings": settings})).await?;
    let mut agents = Vec::new();
    let mut agent_ids = Vec::new();
    for n in 1..=2 {
        let email = format!("agent{n}@demo.local");
        let password = random_hex(16)?;
        let body =
            json!({"email": email, "name": format!("Demo Agent {n}"), "role": "agent", "password": password});
        let created = call_api(gateway, Method::POST, "/v1/users", api_key, body).await?;
        let user_id = created["user"]["id"].clone();
        agent_ids.push(user_id.clone());
        agents.push(json!({"user_id": user_id, "email": email, "password": password}));
    }
    let mut queues = Vec::new();
    for name in ["Sales", "Support"] {
        let body = json!({"name": name, "members": agent_ids});
        let created = call_api(gateway, Method::POST, "/v1/queues", api_key, body).await?;
        queues.push(json!({"id": created["id"], "name": created["name"]}));
    }
    Ok((queues, agents))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let config = LocalConfig::from_env()?;
    let logs = config.state_dir.join("logs");
    tokio::fs::create_dir_all(&logs).await.context("creating .local/logs")?;
    let mut entries = tokio::fs::read_dir(&logs).await?;
    while let Some(entry) = entries.next_entry().await? {
        if entry.path().extension().is_some_and(|e| e == "log") {
            tokio::fs::remove_file(entry.path()).await?;
        }
    }
    let _ = tokio::fs::remove_file(config.state_dir.join("demo.json")).await;

    // moto (unless an endpoint was given), then the resources.
    let mut moto = None;
    let endpoint = match &config.aws_endpoint {
        Some(endpoint) => endpoint.clone(),
        None => {
            // moto with atomic, copy-free DynamoDB transactions (see the script).
            let moto_launcher = config.state_dir.join("moto_server.py");
            tokio::fs::write(&moto_launcher, MOTO_LAUNCHER).await.context("writing moto's launcher")?;
            let spec = ProcessSpec {
                name: "moto".into(),
                instance: 0,
                program: config.venv.join("bin").join("python"),
                args: vec![
                    moto_launcher.display().to_string(),
                    "-H".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    config.moto_port.to_string(),
                ],
                env: Vec::new(),
                echo: false,
            };
            moto = Some(
                spawn(&spec, &logs)
                    .await
                    .context("starting moto (run infra/local-stack.sh, which installs it)")?,
            );
            format!("http://127.0.0.1:{}", config.moto_port)
        }
    };
    // The stack's own SDK configuration (bootstrap, the event source mappings), made as the
    // functions make theirs, from the variables it gives them.
    let aws = shared::config::local_aws_sdk_config(&endpoint)?;
    wait_for_aws(&aws).await?;
    let resources = bootstrap(&aws, "leadline", config.visibility_timeout)
        .await
        .context("creating table, queues and key")?;
    tracing::info!(endpoint = %endpoint, table = %resources.table_name, "AWS stand-ins ready");
    // Where operator tools reach these stand-ins (`leadline-admin --local <state dir>`).
    let aws_json = json!({"endpoint_url": endpoint, "region": "us-east-1", "stack": "leadline"});
    tokio::fs::write(config.state_dir.join("aws.json"), serde_json::to_vec_pretty(&aws_json)?)
        .await
        .context("writing aws.json")?;

    let secrets = Secrets {
        operator_key: format!("llo_{}", random_hex(24)?),
        app_secret: random_hex(16)?,
        verify_token: random_hex(12)?,
    };

    // The runtime API and the functions.
    let specs: Vec<FunctionSpec<'_>> = FUNCTIONS
        .iter()
        .map(|(name, timeout)| FunctionSpec { name, timeout: *timeout, instances: config.instances.of(name) })
        .collect();
    let runtime = Runtime::new(&specs);
    let runtime_listener = tokio::net::TcpListener::bind(("127.0.0.1", config.runtime_port))
        .await
        .with_context(|| format!("binding the runtime API on 127.0.0.1:{}", config.runtime_port))?;
    let runtime_router = runtime.router();
    tokio::spawn(async move { axum::serve(runtime_listener, runtime_router).await });
    let (stop, stopped) = watch::channel(false);
    let mut supervisors = Vec::new();
    // Each function reaches moto through its own recording listener (`<state>/aws-calls.jsonl`),
    // shared by its instances.
    let calls = recorder::open_log(&config.state_dir).await?;
    let names = LogicalNames::of(&resources);
    let writes = WriteGate::default();
    for function in &specs {
        let recorded = recorder::start(
            function.name,
            &endpoint,
            names.clone(),
            Some(Arc::clone(&calls)),
            writes.clone(),
        )
        .await?;
        // Every instance of a function writes to its one log file.
        let log = open_log(&logs, function.name).await?;
        for instance in 0..function.instances {
            let spec = ProcessSpec {
                name: function.name.to_owned(),
                instance,
                program: config.bin_dir.join(function.name),
                args: Vec::new(),
                env: function_env(function.name, instance, &config, &recorded, &resources, &secrets),
                echo: true,
            };
            let supervisor = supervise(spec, Arc::clone(&log), Arc::clone(&runtime), stopped.clone());
            supervisors.push(tokio::spawn(supervisor));
        }
    }

    // The public side.
    let gateway = Gateway {
        runtime: Arc::clone(&runtime),
        sandbox: Sandbox::default(),
        demo_ready: Arc::new(AtomicBool::new(false)),
        console_dir: config.console_dir.clone(),
        live: infra::live::Sockets::default(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
    let router = gateway.router();
    // With the peer's address: the gateway passes it on as `sourceIp` (per-address limits).
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
    });
    tracing::info!("Listening on http://127.0.0.1:{}", config.port);

    // The queues, as event source mappings.
    let sqs = aws_sdk_sqs::Client::new(&aws);
    for (queue, consumer, batch_size) in [
        (&resources.inbound, "inbound", 10),
        (&resources.outbound, "send", 10),
        (&resources.suggest, "suggest", 5),
        // One chunk (200 rows) per invocation, as in template.yaml.
        (&resources.import, "import", 1),
        // The console's live notices: the template's batch of 10, no batching window.
        (&resources.live, "realtime", 10),
    ] {
        let poller = Poller {
            sqs: sqs.clone(),
            queue_url: queue.url.clone(),
            queue_arn: queue.arn.clone(),
            consumer: FunctionConsumer { runtime: Arc::clone(&runtime), name: consumer },
            batch_size,
            wait: Duration::from_secs(1),
            concurrency: config.instances.of(consumer),
        };
        tokio::spawn(poller.run());
    }

    // Ready: every instance of every function polling, then the demo tenant.
    let started = Instant::now();
    while !runtime.all_ready() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(180),
            "functions not ready: {:?}",
            runtime.readiness()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let demo = create_demo_tenant(&gateway, &config, &secrets).await.context("creating the demo tenant")?;
    let demo_path = config.state_dir.join("demo.json");
    tokio::fs::write(&demo_path, serde_json::to_vec_pretty(&demo)?).await.context("writing demo.json")?;
    gateway.demo_ready.store(true, Ordering::SeqCst);
    tracing::info!(demo = %demo_path.display(), "Leadline local stack ready on http://127.0.0.1:{}", config.port);

    // The retention schedule.
    let scheduled = gateway.clone();
    let interval = config.retention_interval;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            ticks.tick().await;
            match scheduled.run_retention().await {
                Ok(report) => tracing::info!(%report, "Scheduled retention run finished"),
                Err(error) => tracing::warn!(error = format!("{error:#}"), "Scheduled retention run failed"),
            }
        }
    });

    // The timers schedule (the contact center's snoozes and auto-resolve).
    let scheduled = gateway.clone();
    let interval = config.timers_interval;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            ticks.tick().await;
            if let Err(error) = scheduled.run_timers(None).await {
                tracing::warn!(error = format!("{error:#}"), "Scheduled timers run failed");
            }
        }
    });

    shutdown_signal().await;
    tracing::info!("Stopping");
    let _ = stop.send(true);
    for supervisor in supervisors {
        let _ = tokio::time::timeout(Duration::from_secs(5), supervisor).await;
    }
    if let Some(mut moto) = moto {
        let _ = moto.kill().await;
    }
    Ok(())
}
