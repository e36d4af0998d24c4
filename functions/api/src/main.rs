//! The `api` Lambda: the tenant API behind API Gateway. Wiring only.

use api::{handle, Config, Deps};
use lambda_http::{service_fn, Error, Request};
use shared::config::Env;
use shared::wiring::Aws;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let env = Env::process();
    let config = Config::from_env(&env)?;
    let aws = Aws::from_env(&env)?;
    let deps = Deps::on(&aws, config)?;
    lambda_http::run(service_fn(|request: Request| async { Ok::<_, Error>(handle(request, &deps).await) }))
        .await
}
