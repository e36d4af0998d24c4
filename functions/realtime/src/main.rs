//! The `realtime` Lambda: the console's WebSocket routes and the `live` queue. Wiring only.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use realtime::{handle, Config, Deps};
use shared::config::Env;
use shared::wiring::Aws;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let env = Env::process();
    let config = Config::from_env(&env)?;
    let sdk = shared::config::aws_sdk_config(&env)?;
    let aws = Aws::new(&sdk);
    let deps = Deps::on(&aws, &sdk, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(event, &deps))).await
}
