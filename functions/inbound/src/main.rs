//! The `inbound` Lambda: consumer of `inbound.fifo`. Wiring only.

use inbound::{handle, Config, Deps};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::config::Env;
use shared::wiring::Aws;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let env = Env::process();
    let config = Config::from_env(&env)?;
    let aws = Aws::from_env(&env)?;
    let deps = Deps::on(&aws, config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(event, &deps))).await
}
