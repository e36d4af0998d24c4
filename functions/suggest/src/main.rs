//! The `suggest` Lambda: consumer of `suggest`. Wiring only.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::config::{aws_sdk_config, Env};
use suggest::{handle, AwsDeps, Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env(&Env::process())?;
    let aws = aws_sdk_config().await;
    let deps = AwsDeps::new(config, &aws)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(event, &deps))).await
}
