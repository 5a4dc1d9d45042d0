"""Write the labelled recall set: memories.jsonl and prompts.jsonl beside this file.

    python tests/data/recall/make_set.py          # rewrite both files
    python tests/data/recall/make_set.py --check  # exit 1 when they differ from what it writes

Deterministic: the same script always writes the same bytes (no clock, no
randomness but a seeded `random.Random`). The memories are written by hand
below, per project, in the shapes the analyzer stores (see README.txt); this
script only gives them ids, sessions, dates, sources and the `supersedes`
links, and resolves each prompt's expected memories from unique fragments of
their text, so a label can never point at a memory that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from analyze.store import Memory, memory_id  # noqa: E402  (after the path set-up)

MODEL = "claude-haiku-5-5"
TZ = ZoneInfo("Europe/Berlin")
KINDS = {"P": "preference", "D": "decision", "C": "convention", "E": "error_fix", "F": "fact"}
SUPERSEDES = " ~~ "
"""`<kind> <text> ~~ <fragment>`: this memory supersedes the earlier one containing fragment."""

SHOP = "/home/dev/shop-api"
ML = "/home/dev/ml-pipeline"
WEB = "/home/dev/web-dashboard"
INFRA = "/home/dev/platform-infra"
LOGTAIL = "/home/dev/logtail"

# Memories per project, oldest first, one per line: a kind letter and the text.
MEMORIES: dict[str | None, str] = {}

MEMORIES[None] = r"""
P The user prefers merge commits over rebasing so the history shows how a branch was developed.
P The user prefers concise answers without a recap of what was just done.
P The user wants to be asked before any git push, and never wants a force-push without asking.
P The user prefers rebasing feature branches onto main over merge commits. ~~ The user prefers merge commits over rebasing
P The user does not want emojis in code comments, commit messages or documentation.
P The user uses Neovim and wants file references as path:line so they can jump to them.
P The user wants shell commands in one copy-pasteable block rather than spread over the text.
P The user prefers long options (--recursive, --force) over short flags in scripts.
P The user wants a new dependency proposed and justified before it is added to any project.
P The user prefers comments that explain why, not what the code does.
P The user dislikes mocks in tests and prefers real databases, real services or simple fakes.
P The user prefers descriptive names over abbreviations, also for loop variables.
P The user wants TODO comments to carry their initials and an issue number, like TODO(lh, #123).
P The user likes comparisons presented as a table.
P The user writes dates as YYYY-MM-DD and works in the Europe/Berlin time zone.
P The user prefers rg over grep and fd over find in suggested commands.
P The user wants destructive commands such as rm -rf, DROP TABLE or terraform destroy explained before they are run.
F The user's GitHub handle is dev-lena.
P The user writes prompts in German sometimes but wants code, comments and commit messages in English.
P The user prefers to fix the root cause over adding a retry around a failure.
"""

MEMORIES[SHOP] = r"""
D Decided to build the order service with FastAPI and async SQLAlchemy sessions.
D Decided to keep money as integer cents in the database, never as floats.
F The service listens on port 8000 locally and is deployed behind the nginx ingress at api.shop.example.com.
F The Postgres database is called shop and runs version 16 in docker compose.
C The local stack starts with `docker compose up -d db redis` and the app runs on the host with uvicorn --reload.
P The user prefers explicit SQLAlchemy 2.0 select() statements over the legacy Query API.
C Alembic migrations live in migrations/versions and are named with a short slug after the revision id.
C Run `alembic upgrade head` against the test database before running pytest.
F The test database is shop_test and is created by scripts/create_test_db.sh.
E Error: `sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called` → fix: the code touched a lazy-loaded relationship in an async session; load it with selectinload in the query.
P The user dislikes lazy loading in request handlers and asks for selectinload or joinedload instead.
D Decided to store the price in the order line at the moment of purchase instead of joining the products table.
D Decided to use Stripe Checkout sessions rather than building a custom card form.
D Decided to process Stripe webhooks idempotently by recording each event id in the stripe_events table.
E Error: Stripe webhook signature verification failed locally → fix: use the signing secret printed by `stripe listen`, not the one from the dashboard.
F Stripe test mode keys live in 1Password under "shop-api stripe test".
D Decided to run background jobs with Celery and Redis as the broker.
D Decided to cache carts in Redis with a 30 minute TTL.
C Routers live in app/api/routes, one module per resource.
C Database models live in app/models and schemas in app/schemas; endpoints never return ORM objects.
P The user prefers Pydantic v2 model_validate over the deprecated parse_obj.
P The user wants error responses in the RFC 7807 problem+json shape.
C Every migration must have a working downgrade; CI runs upgrade, downgrade -1 and upgrade again.
C Run `make lint` (ruff check and ruff format --check) before committing.
E Error: `alembic.util.exc.CommandError: Can't locate revision identified by 'a1b2c3'` → fix: the local database was stamped by a deleted branch migration; check the schema, then run `alembic stamp head`.
C Tests run each test in a transaction that the db_session fixture rolls back.
C Use the factory_boy factories in tests/factories.py instead of building ORM rows by hand in tests.
P The user wants every new endpoint to come with a pytest test that calls it through the TestClient.
E Error: `asyncpg.exceptions.TooManyConnectionsError` in the test suite → fix: set the pool size to 5 in the test settings and dispose the engine when the session ends.
C Settings come from app/config.py through pydantic-settings; no os.environ lookups anywhere else.
C New environment variables must be added to .env.example with a comment.
D Decided to version the public API under /v1 and to keep /v2 for the new checkout flow.
D Decided to paginate list endpoints with opaque cursors instead of offset and limit.
D Decided to soft-delete products with a deleted_at column so that old orders keep their references.
F The orders table has about 4 million rows in production; a migration on it must not lock the table.
C Index creation on big tables uses CREATE INDEX CONCURRENTLY inside an autocommit block in the migration.
E Error: `CREATE INDEX CONCURRENTLY cannot run inside a transaction block` → fix: wrap the operation in `with op.get_context().autocommit_block():`.
C Never edit a migration that has reached main; write a new one instead.
P The user wants hand-written SQL in the migration with op.execute when autogenerate gets it wrong, rather than bending the model.
D Switched background jobs from Celery to arq because every task is async. ~~ Celery and Redis as the broker
E Error: pytest hangs after the last test → fix: the arq worker fixture never closed its Redis pool; close it in the fixture teardown.
D Decided to use uv instead of pip-tools for dependency management.
F Python version is 3.12; the project uses uv with uv.lock committed.
C Add dependencies with `uv add`, never by editing pyproject.toml by hand.
C Run the test suite with `uv run pytest -n auto`.
E Error: `pytest: error: unrecognized arguments: -n auto` → fix: pytest-xdist is a dev dependency; run `uv sync --dev` first.
D Decided to use structlog with JSON output for all application logs.
C Log messages are lowercase event names with key-value context, e.g. log.info("order_paid", order_id=order.id).
P The user wants structlog context such as order_id and user_id bound once per request instead of passed to every log call.
D Decided against GraphQL for now; the storefront only needs a handful of REST endpoints.
E Error: `pydantic_core.ValidationError` for Decimal prices read from the database → fix: declare the field as condecimal(decimal_places=2) instead of float.
C Money values in API responses are strings with two decimals, e.g. "19.90".
C Use Decimal and quantize(Decimal("0.01"), ROUND_HALF_UP) for any rounding of amounts.
D Decided to compute VAT from the per-country rates in app/tax/rates.py instead of calling a tax API.
D Decided to generate invoice PDFs with WeasyPrint from the Jinja templates in app/templates/invoices.
E Error: totals in the invoice PDF are off by one cent → fix: round each line item before summing, the way Stripe does.
E Error: WeasyPrint fails with `OSError: cannot load library 'gobject-2.0-0'` in the slim image → fix: install libpango-1.0-0 and libpangoft2-1.0-0 in the Dockerfile.
C The Docker image is built from python:3.12-slim in two stages; the final stage runs as the app user.
E Error: uvicorn --reload does not pick up changes inside Docker → fix: run uvicorn on the host; the bind mount does not forward inotify events.
F Production runs 4 uvicorn workers per pod under gunicorn.
D Switched from gunicorn to plain `uvicorn --workers 4`; gunicorn added nothing but a process. ~~ 4 uvicorn workers per pod under gunicorn
C Health checks: /healthz is liveness only, /readyz checks the database and Redis.
E Error: the readiness probe fails during deploys while migrations run → fix: run the migrations in a pre-deploy Kubernetes Job, not in the container entrypoint.
E Error: `ImportError: cannot import name 'Base' from partially initialized module 'app.models'` → fix: define Base in app/db/base.py and import the models from app/models/__init__.py only.
C Endpoints that change state require an Idempotency-Key header, enforced by app/middleware/idempotency.py.
E Error: `psycopg.errors.UniqueViolation` on orders.idempotency_key when the client retries → fix: insert with ON CONFLICT DO NOTHING and return the existing order.
D Decided to send order confirmation emails through Postmark from an arq task, never inline in the request.
E Error: Postmark answers 422 "Invalid 'From' address" in staging → fix: only orders@shop.example.com has a verified sender signature; send from that address.
F The staging environment is at staging-api.shop.example.com and uses the Stripe test account.
D Decided to rate-limit the public API with slowapi at 100 requests per minute per API key.
E Error: slowapi throttles all clients together behind the ingress → fix: key the limiter on X-Forwarded-For and trust only the ingress proxy.
C Authentication uses JWT access tokens valid for 15 minutes and refresh tokens stored hashed in the refresh_tokens table.
D Decided to sign JWTs with RS256 and publish the public key at /.well-known/jwks.json.
E Error: `jwt.exceptions.ImmatureSignatureError` in CI → fix: the runner clock lags; allow 10 seconds of leeway when decoding tokens.
P The user prefers services injected with Depends over module-level singletons.
C Services live in app/services and take the database session as a keyword argument.
F The admin panel is a separate Jinja app mounted at /admin and protected by the staff role.
C Outgoing HTTP calls use one shared httpx.AsyncClient with a 5 second timeout.
E Error: `httpx.ReadTimeout` from the inventory service under load → fix: the code opened a new AsyncClient per request and exhausted connections; share one client per app.
F The inventory service belongs to another team; its OpenAPI spec is vendored in docs/inventory-openapi.json.
C Regenerate the inventory client with `make inventory-client` after updating the vendored spec.
D Decided to store coupon codes upper-cased so they match case-insensitively.
E Error: a coupon was redeemed twice by concurrent checkouts → fix: lock the coupon row with SELECT ... FOR UPDATE in the redemption transaction.
F Coupons have a max_redemptions column; NULL means unlimited.
C Pytest markers: slow for tests over a second, stripe for tests that call the Stripe test API; pull request CI skips stripe.
P The user wants test names that describe the behaviour, like test_refund_fails_when_order_is_not_paid.
D Decided to implement partial refunds with Stripe Refunds, amounts in cents, and a refunds table.
E Error: Stripe `charge_already_refunded` when a refund is retried → fix: check the sum in the refunds table before calling Stripe.
F Orders move through pending, paid, shipped, delivered, cancelled and refunded; the transitions are in app/domain/order_state.py.
C Order status changes go through OrderStateMachine.transition(), never by assigning order.status.
D Decided to write domain events to an outbox table and publish them from a worker, for at-least-once delivery.
E Error: the outbox worker published the same event twice after a restart → fix: claim rows with FOR UPDATE SKIP LOCKED and mark them published in the same transaction.
F Shipping rates come from the Shippo API and are cached per postcode for a day.
E Error: `redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379` in tests → fix: start it with `docker compose up -d redis`; the tests need a real Redis.
D Decided to add OpenTelemetry tracing, exported over OTLP to the Tempo instance in the cluster.
E Error: traces have no database spans → fix: instrument the engine with SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine).
F The OpenAPI docs are served at /docs only in staging; production sets docs_url=None.
D Decided to generate the storefront's TypeScript client from the OpenAPI schema with openapi-typescript.
C Pre-commit runs ruff, ruff-format and mypy; install the hooks with `pre-commit install`.
C Type-check with `mypy app` in strict mode; the tests are not in strict mode.
E Error: mypy reports `Missing type parameters for generic type "dict"` → fix: write dict[str, Any]; strict mode forbids bare generics.
F The product catalogue has roughly 12,000 SKUs.
D Decided to import the supplier catalogue nightly from their CSV feed with an arq cron job.
E Error: the catalogue import fails with UnicodeDecodeError on the supplier CSV → fix: the feed is cp1252; open it with encoding="cp1252".
C Product slugs are generated with python-slugify and are unique per locale.
F The shop is in German and English; translations use Babel and live in app/locales.
E Error: pybabel extract finds no strings in the Jinja templates → fix: add the jinja2 extractor to babel.cfg.
P The user wants to review German UI strings themselves before merge.
C Personal data columns are listed in PERSONAL_FIELDS in app/privacy.py, which the GDPR export and deletion jobs read.
D Decided to anonymise customers on account deletion instead of deleting their orders, for bookkeeping.
F Orders must be kept for ten years under German tax law (GoBD).
E Error: test_gdpr_export fails after a new customer column → fix: add the column to PERSONAL_FIELDS in app/privacy.py.
F Product search uses Postgres full-text search with a GIN index on products.search_vector.
F The admin product search uses a pg_trgm trigram index on products.name.
F Sentry is configured in app/observability.py and drops health-check transactions.
"""

MEMORIES[ML] = r"""
D Decided to write the training loop with PyTorch Lightning instead of a hand-rolled one.
D Decided to configure experiments with Hydra; configs live in conf/ with one group per model family.
D Decided to version datasets with DVC and an S3 remote at s3://acme-ml-data/dvc.
C Run `dvc pull` before the training tests; they need data/sample.
E Error: `dvc pull` fails with 403 Forbidden → fix: the ml-data AWS profile is needed; export AWS_PROFILE=ml-data first.
F The sample dataset in data/sample has 50,000 customers and is tracked by DVC.
P The user prefers polars over pandas for new feature code.
C Prefer lazy polars (scan_parquet, LazyFrame) in pipeline code; eager DataFrames only in tests.
D Decided to orchestrate the nightly pipeline with Prefect 2 deployments.
P The user wants every experiment logged to MLflow with the git commit and the resolved Hydra config.
E Error: the MLflow UI shows no runs → fix: MLFLOW_TRACKING_URI must point at http://mlflow.internal:5000, not the local mlruns folder.
F The training box is gpu-01 with two A100 40GB GPUs, reachable over Tailscale.
C Long training runs are started in tmux on gpu-01, never straight from a laptop SSH session.
E Error: a training run died when the SSH connection dropped → fix: start long runs inside tmux on gpu-01.
C Tests in tests/unit must not touch the GPU; GPU tests are marked gpu and only run on the training box.
C Run the unit tests locally with `pytest -m "not gpu"`.
C Random seeds are set with seed_everything(cfg.seed, workers=True); never call torch.manual_seed directly.
F The churn model is a LightGBM baseline plus a TabTransformer experiment.
F The main metric for the churn model is PR-AUC on the last month as holdout.
D Decided to split train and validation by time, with the last month as holdout, never at random.
E Error: `CUDA out of memory` training the TabTransformer with batch size 1024 → fix: use batch size 256 with gradient accumulation of 4 and bf16 precision.
E Error: `RuntimeError: Expected all tensors to be on the same device` in the embedding layer → fix: register the category lookup as a buffer so Lightning moves it to the GPU.
E Error: DataLoader workers crash with `Too many open files` → fix: set torch.multiprocessing.set_sharing_strategy("file_system").
E Error: Hydra `ConfigCompositionException: Could not find 'model/tabtransformer'` → fix: the file must be conf/model/tabtransformer.yaml, matching the group name.
D Decided to keep the feature store tables in Postgres, with Alembic migrations in featurestore/migrations.
C Feature store migrations are created with `alembic -c featurestore/alembic.ini revision --autogenerate` and reviewed by hand before commit.
F The feature store Postgres is featurestore.internal:5432, database features.
C The feature_values table is partitioned by month; a migration adds the next month's partition.
E Error: alembic autogenerate wants to drop the feature_values partitions → fix: skip partition tables in include_object in featurestore/migrations/env.py.
D Decided to compute rolling-window features in SQL inside the feature store rather than in pandas.
P The user wants every SQL feature to come with a test against a hand-computed example.
C Feature unit tests build tiny polars frames inline instead of loading fixture files.
C Feature names are snake_case and prefixed with their source, e.g. txn_amount_7d_mean.
C Every new feature needs an entry in features/registry.yaml with an owner and a description.
F Raw transactions arrive daily as parquet under s3://acme-raw/transactions/dt=YYYY-MM-DD/.
E Error: pyarrow `ArrowInvalid: Unable to merge: Field amount has incompatible types: double vs decimal128` → fix: cast amount to Float64 when reading each partition.
E Error: polars `ComputeError: could not parse "N/A" as dtype f64` reading transactions.csv → fix: pass null_values=["N/A", ""] to read_csv.
D Decided to validate incoming data with pandera schemas before any feature is computed.
C Pandera schemas live in pipeline/schemas.py, one per raw source.
E Error: pandera `SchemaError: column 'country' not in dataframe` for the Austrian feed → fix: the feed renamed it to country_code; map it in the loader.
D Decided to keep LightGBM as the production churn model; the TabTransformer gained only 0.4 points of PR-AUC.
E Error: LightGBM warns `No further splits with positive gain` and PR-AUC drops to the base rate → fix: the label became constant after a failed join; drop rows where the join found no customer.
D Decided to calibrate the LightGBM probabilities with isotonic regression on the validation month.
E Error: sklearn `ValueError: Input contains NaN` in IsotonicRegression → fix: drop customers without a label before calibrating.
D Decided to score all customers nightly in batch and write the scores to the crm.churn_scores table.
F The CRM team reads churn_scores every morning at 06:00 Berlin time.
E Error: nightly scoring finished after the 06:00 deadline → fix: the feature job recomputed the whole history; compute only the last day incrementally.
D Switched the nightly pipeline from Prefect to Dagster assets for the lineage view. ~~ orchestrate the nightly pipeline with Prefect 2
F Dagster runs on the Kubernetes cluster in the ml namespace; its UI is at dagster.internal.
C Dagster assets live in pipeline/assets, one module per stage: raw, features, training, scoring.
E Error: Dagster `DagsterInvalidDefinitionError: Duplicate asset key` → fix: two modules defined features_daily; give each module its own key prefix.
C Tests for Dagster assets call materialize() with in-memory IO managers.
E Error: the Dagster sensor never fires for new S3 partitions → fix: its cursor compared date strings of two formats; compare partition keys instead.
C Feature backfills run as Dagster backfills over monthly partitions, never as ad-hoc scripts.
E Error: a feature backfill blocks the feature store with lock waits → fix: run the backfill with at most 2 partitions at a time.
C The environment is managed with uv; torch comes from the cu121 index set in pyproject.toml.
E Error: `uv sync` installs the CPU build of torch → fix: the [tool.uv.sources] entry for torch must point at the pytorch-cu121 index.
C Imports inside the pipeline package are absolute, e.g. from pipeline.features import rolling.
E Error: `ModuleNotFoundError: No module named 'pipeline'` when running a script → fix: run it as a module from the repository root with python -m, or through uv run.
C Run `make ci` (ruff, mypy and pytest -m "not gpu") before pushing.
E Error: mypy takes minutes on the torch imports → fix: set follow_imports = "skip" for torch in the mypy configuration.
P The user prefers matplotlib plots saved as PNG into reports/ instead of shown inline.
C Evaluation reports are built with `python -m pipeline.report <run_id>` into reports/<run_id>/.
F Every evaluation report contains the confusion matrix, the precision-recall curve and a calibration plot.
P The user prefers Markdown reports with a short conclusion at the top.
F The ML team reviews results on Thursdays; material for it goes into reports/weekly/.
P The user wants hyperparameter searches capped at 50 Optuna trials unless they say otherwise.
D Decided to use Optuna with the median pruner for hyperparameter search.
E Error: the Optuna study loses trials when two workers share a SQLite file → fix: use the Postgres storage on the feature store server.
F Optuna studies are stored in the optuna database on featurestore.internal.
C Every production model has a model card in docs/model_cards/<model>.md.
F The embedding for merchant categories has dimension 32 and there are 412 categories.
E Error: `IndexError: index out of range in self` in nn.Embedding → fix: new merchant categories appeared; map unknown ones to index 0 and size the table with one spare slot.
C Category vocabularies are frozen per model version and stored with the checkpoint.
C Model checkpoints go to s3://acme-ml-models/<run_id>/ and are never committed to git.
P The user wants a leakage check (no feature value from after the cutoff date) in every new feature test.
D Decided to compute features as of the cutoff date with point-in-time joins in the feature store.
E Error: the point-in-time join returned values from the future → fix: the join used created_at instead of event_time.
F Customer ids are UUIDs in the CRM and integers in the transaction feed; the mapping is in crm.customer_map.
D Decided to use torch.compile only for inference; training with it was unstable under Lightning.
F TabTransformer inference runs at about 40,000 rows per second on one A100.
D Decided to export the scoring model to ONNX for the CRM's real-time endpoint.
F The CRM real-time endpoint has a latency budget of 50 ms per scoring request.
E Error: ONNX export fails with `Unsupported: prim::PythonOp` → fix: replace the custom autograd function in the attention block with plain torch operations.
C ONNX models are compared with onnxruntime against the PyTorch output to 1e-4 before upload.
D Decided to drop the Spark ingestion job; polars on one machine handles the 30 GB a day.
E Error: polars scan_parquet runs out of memory on a full month → fix: select only the needed columns and collect with streaming=True.
P The user prefers to see a dry run on a small sample before any full training job is launched.
P The user wants GPU-hours estimated before a training job longer than an hour is started.
D Decided to retrain the churn model monthly, on the first Monday, and to promote it only if PR-AUC does not drop.
C Model promotion goes through the MLflow model registry stage Production; nothing loads checkpoints from S3 directly.
E Error: `mlflow.exceptions.RestException: RESOURCE_ALREADY_EXISTS` when registering a model → fix: call register_model with the existing name; create_registered_model is only for the first version.
D Decided to use Weights & Biases only for the TabTransformer sweeps; MLflow stays the system of record.
E Error: wandb blocks the start of training waiting for a login → fix: set WANDB_MODE=offline on gpu-01 and sync the runs afterwards.
C Secrets for the pipeline come from the Kubernetes secret ml-pipeline-env, and locally from .env through python-dotenv.
C Stage outputs in dvc.yaml are declared under outs with cache: true; metrics files use cache: false.
E Error: `dvc repro` reruns every stage → fix: a script rewrote params.yaml with sorted keys; dump it with sort_keys=False so its hash stays the same.
P The user wants pull requests that change a model to include a before/after metrics table.
D Decided to label customers without transactions for 90 days as churned.
F The label definition is documented in docs/labels.md.
E Error: the churn label rate jumped to 40% in October → fix: the transaction feed had a two-day outage; exclude the gap days from the 90-day window.
D Decided to log system metrics such as GPU utilisation and memory to MLflow every 30 seconds.
F The project began from the cookiecutter-data-science layout and was reorganised into the pipeline package.
"""

MEMORIES[WEB] = r"""
D Decided to build the admin dashboard with Vite and React 18 in TypeScript strict mode.
D Decided to use pnpm; npm and yarn lockfiles are not committed.
F The Node version is 20 LTS, pinned in .nvmrc.
F The dashboard runs on http://localhost:5173 in development.
P The user prefers function components with hooks; no class components.
P The user prefers named exports over default exports.
P The user wants Tailwind utility classes rather than CSS modules in new components.
D Decided against a component library; the UI uses Radix primitives styled with Tailwind.
C Tailwind colours come from the theme in tailwind.config.ts; no arbitrary hex values in class names.
C Components live in src/components/<Name>/<Name>.tsx with <Name>.stories.tsx and <Name>.test.tsx beside them.
P The user wants a Storybook story for every new component.
C Imports use the @/ alias for src/.
E Error: `Cannot find module '@/components/Button' or its corresponding type declarations` in Vitest → fix: add the @ alias to resolve.alias in vitest.config.ts as well, not only to the tsconfig paths.
P The user dislikes `any` in TypeScript and wants `unknown` narrowed with a type guard instead.
C ESLint uses the flat config in eslint.config.js with typescript-eslint strict and the react-hooks rules.
C Run `pnpm lint && pnpm typecheck && pnpm test` before committing.
C Unit tests use Vitest with Testing Library and query by role and label, not by test id.
P The user prefers TanStack Query for server state and Zustand only for UI state.
D Decided to generate the API types from the shop-api OpenAPI schema with openapi-typescript into src/api/schema.d.ts.
C API calls go through src/api/client.ts, a fetch wrapper that attaches the access token and refreshes it on a 401.
C Query keys are built with the factories in src/api/queryKeys.ts, never written inline.
D Decided to keep the access token in memory and the refresh token in an httpOnly cookie, never in localStorage.
E Error: several requests that get a 401 at once each start a token refresh → fix: share one in-flight refresh promise in the API client.
D Decided to use TanStack Router instead of React Router for type-safe routes.
E Error: TypeScript `Type instantiation is excessively deep and possibly infinite` with TanStack Router → fix: register the router type once in src/router.ts with declare module.
D Decided to use MSW for API mocking in Vitest and Storybook.
E Error: MSW warnings about requests without a matching handler flood the test output → fix: set onUnhandledRequest: "error" and add the missing handler for /v1/me.
C Feature folders live under src/features/<feature> with their own api.ts, hooks and components.
D Decided to use Recharts for the revenue charts.
F The revenue chart aggregates per day in the Europe/Berlin time zone.
E Error: the revenue chart is off by one day around midnight → fix: the API sends UTC; convert with date-fns-tz to Europe/Berlin before grouping by day.
C Dates are formatted with date-fns in the user's locale, never with toLocaleString directly.
C Money amounts arrive from the API as decimal strings and are formatted with Intl.NumberFormat in EUR.
D Switched the charts from Recharts to ECharts because Recharts was slow with 10,000 points. ~~ Recharts for the revenue charts
E Error: ECharts canvases are blurry on retina screens → fix: pass devicePixelRatio: window.devicePixelRatio to echarts.init.
C Chart components are tested with Playwright, not Vitest, because jsdom has no canvas.
E Error: `ResizeObserver is not defined` in Vitest → fix: install the resize-observer-polyfill in src/test/setup.ts.
D Decided to use react-hook-form with zod schemas for every form.
D Decided to support German and English with i18next; keys live in src/locales/de.json and en.json.
C End-to-end tests use Playwright in e2e/ and run against `pnpm preview` with MSW disabled and the staging API.
E Error: Playwright times out waiting for the login page in CI → fix: the preview server starts slowly there; set webServer.timeout to 120 seconds in playwright.config.ts.
E Error: CORS error when calling staging-api from localhost:5173 → fix: go through the Vite dev server proxy for /api instead of calling the API origin directly.
E Error: `TypeError: Cannot read properties of undefined (reading 'map')` on the refunds page → fix: since the cursor pagination change the API returns data.items; update the query's select function.
E Error: React warns `Cannot update a component while rendering a different component` in the orders table → fix: the filter store was written during render; move the update into an effect.
E Error: the dashboard page refetches in an endless loop → fix: the query key held a new Date object on every render; use the ISO date string.
D Decided to virtualise the orders table with TanStack Virtual; it shows up to 5,000 rows.
E Error: virtualised rows jump when scrolling fast → fix: give estimateSize the real row height of 44px and measure dynamic rows with measureElement.
D Decided to keep the table filter state in the URL search params so that views can be shared as links.
C Search params are validated with zod schemas in the route definition.
E Error: the back button resets the filters → fix: the debounced filter input wrote search params with replace: true; push a history entry on submit.
F Users of the dashboard are the shop's staff, about 30 people, all on desktop Chrome.
C The dashboard only supports viewport widths of 1280px and above.
F The design lives in the Figma file "Shop Admin 2026"; spacing uses a 4px grid.
P The user wants skeleton placeholders as loading states, not spinners.
P The user wants empty states with a one-line explanation and an action button.
D Decided to show refunds in a side drawer rather than on a separate page.
C Mutations invalidate the matching query keys in onSuccess; no manual cache writes except for optimistic updates.
E Error: an optimistic order status update is not rolled back when the request fails → fix: return the previous data from onMutate and restore it in onError.
P The user wants optimistic updates only for toggles, never for money-related actions such as refunds.
F Roles: staff can view, managers can refund, admins can edit products.
C Permission checks use the useCan(permission) hook; components never compare role names.
E Error: the refund button shows for staff users → fix: the permissions from /v1/me were cached from a previous login; clear the query cache on logout.
D Decided to report frontend errors to Sentry with source maps uploaded during the build.
E Error: Sentry shows minified stack traces → fix: the source maps were uploaded under another release name; use the git SHA for both the build and the upload.
C Environment variables of the dashboard start with VITE_ and are documented in .env.example.
E Error: `import.meta.env.VITE_API_URL` is undefined in the production build → fix: Vite inlines it at build time; set it in the CI build job, not at runtime.
F The dashboard is deployed as static files to the S3 bucket shop-dashboard behind CloudFront.
D Decided to add dark mode with Tailwind's class strategy and a toggle stored in localStorage.
E Error: dark mode flashes white on page load → fix: set the dark class from an inline script in index.html before React loads.
C Icons come from lucide-react, imported one by one by name.
E Error: the bundle grew by 600 kB → fix: lodash was imported whole; use lodash-es named imports or native code.
P The user wants the bundle analyser output checked before any UI dependency is added.
F The production bundle is about 480 kB gzipped.
C Every interactive element must be reachable by keyboard; Playwright runs axe checks on the main pages.
E Error: axe reports `Buttons must have discernible text` for icon buttons → fix: give IconButton an aria-label taken from its tooltip text.
D Decided to export the orders table to CSV in the browser with papaparse instead of a server endpoint.
E Error: umlauts in the exported CSV are garbled in Excel → fix: prepend a UTF-8 byte order mark to the file.
D Decided to poll the live orders widget every 30 seconds instead of opening a websocket.
C Pull requests need a screenshot or a short screen recording for any UI change.
F Renovate opens dependency update pull requests every Monday, with minor updates grouped.
E Error: a Renovate update breaks the build with mismatched React types → fix: update @types/react and @types/react-dom together with react in one group.
D Decided to lazy-load the product editor route to keep the first bundle small.
E Error: `ChunkLoadError` after a deploy for users with an old tab open → fix: catch it in the router's error boundary and reload the page once.
C Feature flags in the dashboard come from the shop-api /v1/flags endpoint through the useFlag hook.
E Error: ESLint react-hooks/exhaustive-deps warns about the fetch callback → fix: wrap it in useCallback with its real dependencies instead of disabling the rule.
P The user does not want eslint-disable comments without a reason next to them.
F The product editor uses TipTap for rich-text descriptions.
E Error: TipTap keeps Word formatting when descriptions are pasted → fix: strip style attributes in transformPastedHTML.
E Error: Storybook renders the stories without Tailwind styles → fix: import src/index.css in .storybook/preview.ts.
E Error: `pnpm install` fails with ERR_PNPM_OUTDATED_LOCKFILE in CI → fix: run pnpm install locally and commit pnpm-lock.yaml; CI installs with --frozen-lockfile.
"""

MEMORIES[INFRA] = r"""
D Decided to manage the AWS accounts with Terraform, with the S3 backend and DynamoDB state locking.
F AWS accounts: acme-prod and acme-staging in eu-central-1, and acme-shared for ECR and DNS.
P The user wants `terraform plan` output shown and confirmed before any apply.
P The user prefers modules pinned to an exact version tag, never to a branch.
P The user prefers small Terraform states per environment and component over one big state.
C Terraform code lives in terraform/envs/<env>/<component>, reusable modules in terraform/modules.
C Run `terraform fmt -recursive` and `tflint` before committing.
C Plan one component with `make plan ENV=staging COMPONENT=rds`; never run terraform inside a module folder.
C Every Terraform change goes through a pull request whose CI job posts the plan as a comment.
P The user wants every resource tagged with team, env and cost-center.
F The Terraform AWS provider is pinned to ~> 5.60.
E Error: `Error acquiring the state lock` after a cancelled CI job → fix: make sure nobody is applying, then run `terraform force-unlock <lock id>`.
D Decided to run all services on EKS 1.30 with managed node groups.
F The production EKS cluster is prod-eu1; staging is staging-eu1.
D Decided to use Karpenter instead of the cluster autoscaler for the general node pool.
E Error: Karpenter never removes empty nodes → fix: pods carried karpenter.sh/do-not-disrupt from an old chart; remove the annotation.
D Decided to deploy with Argo CD from the gitops/ folder using the app-of-apps pattern.
E Error: Argo CD shows an app OutOfSync on a Deployment's replicas → fix: the HPA owns replicas; add ignoreDifferences for /spec/replicas.
C Helm charts live in charts/<service> and share the library chart charts/common.
P The user prefers Helm values overridden per environment in values-<env>.yaml rather than --set flags.
C Chart versions are bumped in Chart.yaml with every template change; CI checks it with ct lint.
E Error: `ct lint` fails with "Chart version not ok. Needs a version bump!" → fix: bump version in the chart's Chart.yaml.
E Error: Argo CD `ComparisonError` while building helm dependencies → fix: Chart.lock was missing; run helm dependency update and commit the lock file.
E Error: Helm upgrade fails with "rendered manifests contain a resource that already exists" → fix: adopt it with the meta.helm.sh/release-name annotations and the app.kubernetes.io/managed-by=Helm label.
C Kubernetes manifests carry the labels app.kubernetes.io/name, app.kubernetes.io/part-of and team.
C Container images are pushed to ECR as <service>:<git-sha>; the latest tag is never used.
C Every Deployment sets resource requests and limits, a readiness probe and a PodDisruptionBudget.
C Database migrations of every service run as an Argo CD PreSync hook Job, never in the application entrypoint.
D Decided to keep secrets in AWS Secrets Manager and sync them into the cluster with External Secrets Operator.
D Decided against sops-encrypted files in git; rotating them was too manual.
E Error: External Secrets reports `SecretSyncedError: could not get secret data` → fix: the secret path in AWS had a trailing slash; the ExternalSecret key must match exactly.
D Decided to give each application its own RDS Postgres 16 instance, Multi-AZ only in production.
E Error: `terraform plan` shows every RDS parameter as changed → fix: write parameter values as strings, the way AWS returns them ("1", not 1).
D Decided to back up RDS with AWS Backup, keeping snapshots for 35 days in production.
C RDS restore drills run every quarter and are written up in docs/runbooks/rds-restore.md.
E Error: the RDS restore drill fails because the snapshot is encrypted with the production KMS key → fix: share the KMS key with the staging account and copy the snapshot.
D Decided to put GPU nodes in a separate node group tainted nvidia.com/gpu=true:NoSchedule.
E Error: pods stay Pending with `0/5 nodes are available: insufficient nvidia.com/gpu` → fix: the pod spec lacked the toleration for the GPU taint.
E Error: `ImagePullBackOff` with "no basic auth credentials" on the new GPU nodes → fix: the node group role lacked AmazonEC2ContainerRegistryReadOnly.
D Decided to give the ml-pipeline its own namespace with a ResourceQuota of 2 GPUs.
F The Dagster and MLflow deployments in the ml namespace are configured by the ML team's Helm values in gitops/apps/ml.
D Decided to issue every ingress certificate with cert-manager and Let's Encrypt DNS-01 through Route 53.
E Error: a cert-manager certificate is stuck in Issuing with DNS-01 → fix: its IRSA role lacked route53:ChangeResourceRecordSets on the hosted zone.
F Route 53 hosts the zones shop.example.com and internal.acme.io.
D Decided to use ingress-nginx rather than the AWS Load Balancer Controller for HTTP ingress.
E Error: ingress-nginx answers 413 Request Entity Too Large for image uploads → fix: set the annotation nginx.ingress.kubernetes.io/proxy-body-size: 20m.
D Decided to expose internal tools (Grafana, Argo CD, Dagster) only on the internal ingress class, reachable over the VPN.
E Error: the Argo CD login loops back to the login page → fix: the OIDC redirect URL must be exactly https://argocd.internal.acme.io/auth/callback.
D Decided to collect logs in Loki and metrics in Prometheus, with Grafana dashboards kept in grafana/dashboards.
F Grafana is at grafana.internal.acme.io with Google SSO.
E Error: a dashboard edited in the Grafana UI is reverted → fix: provisioned dashboards come from git; export the JSON and commit it to grafana/dashboards.
E Error: Loki rejects logs with "entry too far behind" → fix: promtail reused old timestamps from the application; use the ingestion time.
F On-call uses PagerDuty; Alertmanager routes alerts with severity critical and warning.
C Every alert needs a runbook_url annotation pointing into docs/runbooks.
C Every alert rule has a unit test in prometheus/tests, run with `promtool test rules`.
E Error: `promtool test rules` says "expected 1 alert, got 0" → fix: the rule has for: 10m but the test evaluated only 5m; extend eval_time.
C GitHub Actions workflows authenticate to AWS with OIDC roles; no long-lived access keys in repository secrets.
E Error: GitHub Actions OIDC `Not authorized to perform sts:AssumeRoleWithWebIdentity` on pull requests → fix: the role's trust policy only allowed refs/heads/main; add the pull_request subject for plan jobs.
C Reusable workflows live in .github/workflows/reusable-*.yml and are called with workflow_call.
E Error: every CI docker build starts from scratch → fix: build with buildx and the GitHub Actions cache (cache-from type=gha).
C Dockerfiles are linted with hadolint in CI.
E Error: hadolint DL3008 "Pin versions in apt get install" → fix: pin the package versions, or ignore the rule in .hadolint.yaml with a reason.
P The user prefers for_each over maps to count for resources that may be reordered.
E Error: Terraform wants to destroy and recreate every subnet after one was added → fix: they were created with count; switch to for_each and add moved blocks.
C Use moved blocks instead of `terraform state mv` for refactors, so the change is reviewed in the plan.
D Decided on one VPC per environment with three private and three public subnets, one pair per availability zone.
F NAT gateways: one per availability zone in production, a single one in staging to save cost.
F RDS instances and NAT gateways are about 60% of the AWS bill.
D Decided to buy a one-year Compute Savings Plan for the baseline node usage.
P The user wants an infracost estimate for any change that adds instances or storage.
F Staging is scaled to zero every evening at 20:00 by a CronJob and back up at 07:00.
E Error: kubectl says `You must be logged in to the server (Unauthorized)` → fix: the SSO session expired; run aws sso login and `aws eks update-kubeconfig --name prod-eu1 --profile acme-prod`.
D Decided to move cluster access from the aws-auth ConfigMap to EKS access entries.
C People reach the clusters through AWS SSO roles mapped with EKS access entries, never through the aws-auth ConfigMap.
P The user prefers Renovate over Dependabot for Terraform provider and Helm chart updates.
D Decided to run Renovate self-hosted as a nightly GitHub Action.
D Decided to enforce image tags, resource limits and non-root containers with Kyverno policies.
C New Kyverno policies run in Audit mode for a week before they are switched to Enforce.
E Error: Kyverno blocks the Dagster run pods for running as root → fix: set runAsNonRoot and a numeric runAsUser in the run launcher's pod template.
C Network policies deny all ingress by default in every namespace; each chart allows what its service needs.
E Error: shop-api pods cannot reach Redis after network policies were enabled → fix: add an egress rule to the redis namespace on port 6379.
F ElastiCache Redis 7 serves the shop's cart cache and the arq job queue.
D Switched state locking from DynamoDB to the S3 backend's native lock file (use_lockfile) after the upgrade to Terraform 1.10. ~~ S3 backend and DynamoDB state locking
F The Terraform version is managed with tfenv; .terraform-version pins 1.10.3.
E Error: `Unsupported argument "use_lockfile"` → fix: the local Terraform was 1.9; run tfenv install to get the pinned 1.10.3.
F The platform repository is github.com/acme/platform-infra; the gitops folder is watched by Argo CD in both clusters.
E Error: an EKS managed node group update hangs at 'Updating' for an hour → fix: a PodDisruptionBudget with maxUnavailable 0 blocked the drain; allow one.
"""

MEMORIES[LOGTAIL] = r"""
D Decided to name the tool logtail and to publish it on crates.io.
F The repository is github.com/dev-lena/logtail, dual-licensed MIT or Apache-2.0.
C The workspace has two crates: logtail-core (the library) and logtail (the binary).
D Decided to parse the command line with the clap 4 derive API.
P The user prefers anyhow in the binary and thiserror in the library crate.
P The user wants no unwrap() outside tests; use expect with a reason or propagate the error.
C Run `cargo fmt --all` and `cargo clippy --all-targets -- -D warnings` before committing.
P The user wants clippy pedantic lints fixed rather than allowed, unless an allow carries a comment saying why.
D Decided to parse each JSON line into a map of borrowed RawValue to avoid allocations.
F The typical input is 1 to 5 GB of JSON lines per service and day.
F The throughput goal is 1 GB/s of JSON lines on one core for simple filters.
D Decided to find line boundaries with memchr instead of BufRead::lines.
E Error: reading with BufRead::lines is slow because it allocates a String per line → fix: reuse one buffer with read_until(b'\n').
C Benchmarks use criterion in logtail-core/benches and run with `cargo bench -p logtail-core`.
P The user wants criterion numbers from before and after any change to the parser.
D Decided to support filter expressions like `level>=warn and msg~"timeout"` with a hand-written Pratt parser.
D Decided against regular expressions by default in filters: `~` matches a substring, `~/…/` a regex.
C The filter parser's tests are table-driven, in logtail-core/src/filter/tests.rs.
P The user wants property tests with proptest for the filter parser.
E Error: proptest found a panic on an empty filter string → fix: return a parse error for empty input instead of indexing the token list.
E Error: clippy `large_enum_variant` on the Token enum → fix: box the Regex variant.
C Snapshot tests use insta; review changes with `cargo insta review`.
E Error: insta snapshots differ on Windows because of CRLF line endings → fix: normalise line endings in the test helper before asserting.
C Integration tests in tests/cli.rs run the built binary with assert_cmd.
C Error messages start in lowercase and have no trailing period, as the Rust API guidelines say.
D Decided to read compressed logs (.gz and .zst) transparently, by file extension.
E Error: the Windows build fails with "could not find native static library zstd" → fix: build zstd from the bundled source; turn off the pkg-config feature on Windows.
E Error: zstd input is slower than gzip → fix: the decoder read through an 8 KB buffer; wrap it in a 256 KB BufReader.
D Decided to use tokio only in the follow subcommand; everything else stays synchronous.
E Error: follow mode misses lines after logrotate → fix: watch the path rather than the file descriptor and reopen when the inode changes.
E Error: follow mode burns 100% CPU while the file is idle → fix: wait on notify events instead of polling in a loop without sleeping.
D Decided to use the notify crate for follow mode, with a 250 ms polling fallback on network filesystems.
E Error: tokio "Cannot start a runtime from within a runtime" in the follow tests → fix: use #[tokio::test] instead of building a runtime inside the test.
E Error: `byte index 10 is not a char boundary` panic when truncating long messages → fix: cut at a boundary found with char_indices, not by byte slicing.
D Switched JSON parsing to simd-json, which doubled the throughput on large files. ~~ map of borrowed RawValue
E Error: simd-json rejects the first line of files that start with a UTF-8 BOM → fix: strip the BOM before parsing the first line.
C Unsafe code is forbidden in both crates with #![forbid(unsafe_code)].
D Decided to print matched lines unchanged by default and to pretty-print only with --pretty.
E Error: colours show up as escape codes when the output is piped into less → fix: check std::io::IsTerminal and honour NO_COLOR.
D Decided to colour levels: error red, warn yellow, info plain, debug dim.
C Colours go through the anstream and anstyle crates, never raw escape codes.
E Error: no colours in the Windows console → fix: write through anstream::stdout, which handles the Windows console.
D Decided to add a --fields option that selects keys with a dotted path, like jq.
C Field paths use dots for nesting and [n] for array indices, e.g. req.headers[0].
E Error: the field path a.b does not match a key that has a dot in its name → fix: allow quoted segments such as "a.b" in the path parser.
D Decided to parse timestamps with chrono.
D Decided to support --since and --until with RFC 3339 times and relative values like 15m.
E Error: --since 15m drops every line of logs whose timestamps have no offset → fix: assume UTC for timestamps without an offset and say so in --help.
D Switched from chrono to jiff for timestamps; chrono needed chrono-tz for time zones and was slower. ~~ parse timestamps with chrono
C Exit codes: 0 when a line matched, 1 when none did, 2 on an error, like grep.
E Error: the exit code was 0 when nothing matched → fix: track a matched flag in the writer and return ExitCode::from(1).
D Decided to release binaries for Linux, macOS and Windows with cargo-dist.
C Release: `cargo release minor` bumps the version, tags and pushes; cargo-dist builds the artifacts from the tag.
C The changelog follows Keep a Changelog; every user-visible change adds an entry under Unreleased.
P The user wants changelog entries written from the user's point of view.
F The Homebrew tap dev-lena/homebrew-tap is updated by cargo-dist on every release.
E Error: the cargo-dist release fails with "no such file: logtail-x86_64-pc-windows-msvc.zip" → fix: the Windows build job had failed; fix the zstd build first.
E Error: `cargo publish` fails with "failed to verify package tarball" → fix: a test referenced a fixture outside the crate folder; move the fixture into the crate.
D Decided to keep the minimum supported Rust version at 1.75 and to check it in CI.
E Error: the MSRV job fails with "package requires rustc 1.80" after a dependency update → fix: hold that dependency back with `cargo update -p <crate> --precise <older version>`.
F CI runs on GitHub Actions for Ubuntu, macOS and Windows, with the MSRV job on Ubuntu only.
E Error: the Rust CI cache never hits → fix: use Swatinem/rust-cache, keyed per target.
C Run the tests with `cargo nextest run`, locally and in CI.
E Error: nextest does not run the doctests → fix: add `cargo test --doc` as its own CI step.
D Decided to ship shell completions and a man page generated with clap_complete and clap_mangen.
E Error: generating the completions in build.rs breaks cross-compilation → fix: generate them with an xtask instead.
C Maintenance tasks (completions, man page, release notes) run through `cargo xtask <task>`.
P The user prefers --help texts with one example per option.
F The config file is ~/.config/logtail/config.toml and holds named filter aliases.
E Error: the config file is not found on macOS → fix: dirs::config_dir points at ~/Library/Application Support; use the XDG path.
D Decided to use the XDG config path on every platform, macOS included.
C `cargo deny check` runs in CI for licences and security advisories.
E Error: `cargo deny check` fails on two versions of windows-sys → fix: allow the duplicate in deny.toml with a comment; it comes from two transitive dependencies.
P The user wants invalid input reported with the file name and line number, like app.log:1234: invalid JSON.
C Invalid JSON lines are skipped with a warning on stderr and counted in a summary at the end.
E Error: warnings about invalid lines flood stderr on binary files → fix: print at most 10 warnings, then only a count.
D Decided to refuse binary input, detected by a NUL byte in the first 8 KB, unless --binary is given.
D Decided to accept logfmt input next to JSON, detected per line.
E Error: logfmt values in quotes that contain `=` are split apart → fix: the tokenizer must skip `=` inside quotes.
C Test fixtures live in tests/fixtures: small JSON, logfmt, gzip and zstd files.
F The Kubernetes log fixture comes from a real shop-api pod, scrubbed of customer data.
F logtail is used mostly on structlog JSON output and on Kubernetes pod logs.
D Decided to ship a static musl binary for Linux.
E Error: linking with cc fails for the musl target → fix: install musl-tools, or build x86_64-unknown-linux-musl through cross.
C Keep the release profile at lto = "thin", codegen-units = 1 and strip = true.
E Error: the release build takes four minutes in CI → fix: fat LTO was on; switch to thin LTO.
F The stripped release binary is about 3.5 MB.
D Decided to track benchmark results in CI with github-action-benchmark and fail on a 10% regression.
E Error: criterion results are noisy on the laptop → fix: set the CPU governor to performance and close everything else, or use the CI benchmark runner.
P The user wants the README examples tested as doctests through include_str!.
E Error: the README doctests try to compile the shell examples → fix: mark shell blocks as sh so rustdoc does not compile them.
F Version 0.4.0 added compressed input; 0.5.0 will bring --fields.
F Issues on GitHub are labelled bug, enhancement, parser and perf.
C Every public item in logtail-core has a doc comment with an example.
"""

# Prompts: (prompt, cwd, [fragments of the expected memories' texts], case).
# case: direct (shares the memory's words), paraphrase (the idea in other words,
# or only stems in common), near-miss (shares words with a memory of another
# project), global (a cross-project preference), unrelated (nothing should come).
PROMPTS: list[tuple[str, str, list[str], str]] = [
    # -- shop-api
    ("add an alembic migration that adds a discount_code column to the orders table", SHOP + "/migrations",
     ["are named with a short slug", "about 4 million rows", "must have a working downgrade"], "direct"),
    ("the webhook endpoint rejects every event from stripe listen with a signature error", SHOP,
     ["signature verification failed locally"], "direct"),
    ("MissingGreenlet when I access order.items in the refund handler", SHOP + "/app/api/routes",
     ["MissingGreenlet"], "direct"),
    ("write tests for the coupon redemption endpoint", SHOP,
     ["calls it through the TestClient", "factory_boy factories"], "direct"),
    ("pytest never exits once the suite has finished, it just sits there", SHOP,
     ["pytest hangs after the last test"], "paraphrase"),
    ("how do we paginate the orders listing?", SHOP + "/app/api/routes",
     ["paginate list endpoints with opaque cursors"], "paraphrase"),
    ("the VAT on the invoice is one cent too high for some orders", SHOP,
     ["off by one cent", "quantize("], "paraphrase"),
    ("send an email to the customer when their order has shipped", SHOP,
     ["confirmation emails through Postmark"], "direct"),
    ("support partial refunds in the refund endpoint", SHOP + "/app/api/routes",
     ["partial refunds with Stripe Refunds", "charge_already_refunded"], "direct"),
    ("uv run pytest -n auto fails with unrecognized arguments", SHOP,
     ["pytest-xdist is a dev dependency"], "direct"),
    ("add a setting for the Shippo API key", SHOP,
     ["Settings come from app/config.py", "New environment variables must be added"], "direct"),
    ("we added a phone number column to customers, does the gdpr export need anything?", SHOP,
     ["test_gdpr_export fails", "Personal data columns are listed"], "direct"),
    ("the nightly supplier feed import blows up on weird characters", SHOP,
     ["cp1252"], "paraphrase"),
    ("create an index on products.name concurrently so the admin search is faster", SHOP + "/migrations",
     ["Index creation on big tables", "cannot run inside a transaction block"], "direct"),
    ("mark the order as shipped when the carrier webhook arrives", SHOP,
     ["OrderStateMachine.transition()"], "paraphrase"),
    ("the dark mode toggle in the admin panel", SHOP,
     ["admin panel is a separate Jinja app"], "near-miss"),
    ("which image should the Dockerfile start from?", SHOP,
     ["python:3.12-slim"], "direct"),
    ("push the branch when you're done", SHOP,
     ["asked before any git push"], "global"),
    ("how should log lines be written in the order service?", SHOP + "/app",
     ["lowercase event names", "bound once per request"], "paraphrase"),
    # -- ml-pipeline
    ("train the tabtransformer with batch size 1024 on gpu-01", ML,
     ["CUDA out of memory", "Long training runs are started in tmux"], "direct"),
    ("dvc pull gives me 403", ML, ["export AWS_PROFILE=ml-data"], "direct"),
    ("add a feature for the 30 day average transaction amount", ML + "/pipeline",
     ["prefixed with their source", "features/registry.yaml", "rolling-window features in SQL"], "direct"),
    ("write the migration that adds the december partition to feature_values", ML + "/featurestore",
     ["partitioned by month", "skip partition tables in include_object"], "near-miss"),
    ("the model crashes on new merchant categories with an index error in the embedding", ML,
     ["index out of range in self"], "paraphrase"),
    ("runs don't show up in mlflow", ML, ["MLFLOW_TRACKING_URI"], "direct"),
    ("calibrating the lightgbm probabilities", ML + "/pipeline",
     ["isotonic regression on the validation month"], "paraphrase"),
    ("run the unit tests for me", ML, ['Run the unit tests locally with', "Run `dvc pull` before the training tests"], "direct"),
    ("the churn scores were late for the CRM again this morning", ML,
     ["after the 06:00 deadline", "reads churn_scores every morning"], "paraphrase"),
    ("set up a hyperparameter search for the learning rate", ML,
     ["50 Optuna trials", "median pruner"], "paraphrase"),
    ("export the churn model to onnx for the realtime endpoint", ML,
     ["compared with onnxruntime", "export the scoring model to ONNX"], "direct"),
    ("scanning a whole month of parquet with polars runs out of memory", ML,
     ["collect with streaming=True"], "direct"),
    ("add an index to the orders table", ML, [], "near-miss"),
    ("should train and validation be split randomly?", ML,
     ["split train and validation by time"], "direct"),
    ("dagster complains about a duplicate asset key features_daily", ML + "/pipeline/assets",
     ["Duplicate asset key"], "direct"),
    ("the point in time join leaks future values into the features", ML,
     ["returned values from the future"], "direct"),
    ("rebase this onto main or merge?", ML, ["rebasing feature branches onto main"], "global"),
    # -- web-dashboard
    ("create an OrderStatusBadge component", WEB + "/src/components",
     ["src/components/<Name>/<Name>.tsx", "Storybook story for every new component"], "direct"),
    ("the charts look blurry on my macbook", WEB, ["blurry on retina screens"], "paraphrase"),
    ("CORS error when the dashboard calls the staging api", WEB, ["Vite dev server proxy"], "direct"),
    ("add a form for editing product prices", WEB + "/src/features",
     ["react-hook-form with zod"], "direct"),
    ("where should the dashboard keep the jwt after login?", WEB,
     ["access token in memory and the refresh token"], "paraphrase"),
    ("the orders page keeps refetching forever", WEB, ["refetches in an endless loop"], "paraphrase"),
    ("staff users can see the refund button", WEB,
     ["refund button shows for staff users", "useCan(permission)"], "direct"),
    ("make the orders table filters shareable as a link", WEB,
     ["filter state in the URL search params", "validated with zod schemas in the route"], "direct"),
    ("the exported csv has broken umlauts when opened in excel", WEB, ["byte order mark"], "direct"),
    ("vitest cannot resolve the @/components imports", WEB + "/src",
     ["add the @ alias to resolve.alias"], "direct"),
    ("the page flashes white for a moment before the dark theme kicks in", WEB,
     ["dark mode flashes white"], "paraphrase"),
    ("add a chart of revenue per day over the last 90 days", WEB + "/src/features",
     ["Switched the charts from Recharts to ECharts", "aggregates per day in the Europe/Berlin"], "direct"),
    ("run the database migrations", WEB, [], "near-miss"),
    ("the stripe webhook secret for local testing", WEB, [], "near-miss"),
    ("is it fine to add lodash for this?", WEB,
     ["bundle analyser output checked", "lodash was imported whole"], "paraphrase"),
    # -- platform-infra
    ("bump the rds instance class for shop-api in production", INFRA + "/terraform",
     ["`terraform plan` output shown and confirmed", "make plan ENV=staging COMPONENT=rds"], "direct"),
    ("terraform says the state is locked after I cancelled the pipeline", INFRA,
     ["Error acquiring the state lock"], "paraphrase"),
    ("the ml team's gpu pods are stuck pending", INFRA,
     ["insufficient nvidia.com/gpu", "tainted nvidia.com/gpu"], "direct"),
    ("argocd keeps showing shop-api out of sync because of the replica count", INFRA + "/gitops",
     ["ignoreDifferences for /spec/replicas"], "direct"),
    ("add an alert for a high error rate on checkout", INFRA + "/prometheus",
     ["runbook_url annotation", "promtool test rules`."], "direct"),
    ("image uploads through the ingress fail with 413", INFRA, ["proxy-body-size"], "direct"),
    ("kubectl started saying unauthorized this morning", INFRA, ["update-kubeconfig"], "paraphrase"),
    ("refactor the subnet resources from count to for_each", INFRA + "/terraform/modules",
     ["moved blocks instead of", "destroy and recreate every subnet", "for_each over maps to count"], "direct"),
    ("the certificate for dashboard.shop.example.com never becomes ready", INFRA,
     ["stuck in Issuing with DNS-01"], "paraphrase"),
    ("add a chart for the new payments service", INFRA + "/charts",
     ["charts/<service> and share the library chart", "resource requests and limits"], "direct"),
    ("where do database migrations run when a service is deployed?", INFRA,
     ["PreSync hook Job"], "near-miss"),
    ("terraform init fails with unsupported argument use_lockfile", INFRA, ["run tfenv install"], "direct"),
    ("the redis fixture in the pytest suite is flaky", INFRA, [], "near-miss"),
    ("delete the old staging cluster with terraform destroy", INFRA + "/terraform",
     ["destructive commands such as rm -rf"], "global"),
    ("set up a new python project with tests", "/home/dev/new-idea",
     ["dislikes mocks in tests"], "global"),
    # -- logtail
    ("add a --limit option that stops after n matches", LOGTAIL + "/src",
     ["clap 4 derive API", "one example per option"], "direct"),
    ("follow mode stops printing after the log file gets rotated", LOGTAIL,
     ["misses lines after logrotate"], "paraphrase"),
    ("panic: byte index is not a char boundary when truncating", LOGTAIL, ["char_indices"], "direct"),
    ("make the json parser faster", LOGTAIL + "/logtail-core",
     ["criterion numbers from before and after", "Benchmarks use criterion"], "paraphrase"),
    ("piping into less shows weird escape sequences instead of colours", LOGTAIL, ["IsTerminal"], "paraphrase"),
    ("release version 0.5.0", LOGTAIL, ["`cargo release minor`", "Keep a Changelog"], "direct"),
    ("--since 15m shows nothing for our logs", LOGTAIL, ["assume UTC for timestamps without an offset"], "direct"),
    ("add support for reading .bz2 files", LOGTAIL, ["compressed logs (.gz and .zst)"], "paraphrase"),
    ("the snapshot tests fail on windows", LOGTAIL + "/tests", ["CRLF line endings"], "paraphrase"),
    ("add a migration for the new column", LOGTAIL, [], "near-miss"),
    ("the gpu training job ran out of memory", LOGTAIL, [], "near-miss"),
    # -- unrelated to every memory, from every project
    ("what's the difference between a process and a thread?", SHOP, [], "unrelated"),
    ("write a short poem about the sea for a birthday card", ML, [], "unrelated"),
    ("thanks, that looks good", WEB, [], "unrelated"),
    ("continue", INFRA, [], "unrelated"),
    ("how many days are there between march 3 and june 17?", LOGTAIL, [], "unrelated"),
    ("what does the yield keyword do in python generators?", SHOP, [], "unrelated"),
    ("summarize the last three commits", ML, [], "unrelated"),
    ("rename the variable x to count in this function", WEB + "/src", [], "unrelated"),
    ("explain big-O notation with an example", INFRA, [], "unrelated"),
    ("can you make this paragraph sound more formal?", LOGTAIL, [], "unrelated"),
    ("open the README and fix the typos", SHOP, [], "unrelated"),
    ("why is the sky blue?", ML, [], "unrelated"),
    ("list the files in this directory", WEB, [], "unrelated"),
    ("convert this json snippet to yaml", LOGTAIL, [], "unrelated"),
    ("how do I exit vim?", INFRA, [], "unrelated"),
    ("what time is it in Tokyo right now?", WEB, [], "unrelated"),
    ("write a regex that matches email addresses", LOGTAIL, [], "unrelated"),
    ("explain the difference between TCP and UDP", SHOP, [], "unrelated"),
    ("make this error message clearer for the user", ML, [], "unrelated"),
    ("refactor this function so it is shorter", INFRA, [], "unrelated"),
    ("what is the capital of Australia?", SHOP, [], "unrelated"),
    ("how does git bisect work?", WEB, [], "unrelated"),
    ("draft a polite email declining the meeting on friday", SHOP, [], "unrelated"),
    ("explain what a monad is in plain words", LOGTAIL, [], "unrelated"),
    ("add a docstring to this function", ML + "/pipeline", [], "unrelated"),
    ("what's new in python 3.13?", ML, [], "unrelated"),
    ("read the file I just saved and tell me what it does", INFRA, [], "unrelated"),
    ("can you check my spelling in this commit message?", WEB, [], "unrelated"),
    ("hello, who are you?", "/home/dev", [], "unrelated"),
]


def memories() -> list[Memory]:
    """Every memory, in the order the analyzer would have appended them."""
    rng = random.Random(8)
    per_project: list[list[Memory]] = []
    start = datetime(2026, 9, 1, 9, 0, tzinfo=TZ)
    for p, (project, block) in enumerate(MEMORIES.items()):
        out: list[Memory] = []
        by_text: dict[str, str] = {}
        when = start + timedelta(days=p * 3, hours=p)
        lines = [line for line in block.strip().splitlines() if line.strip()]
        i = 0
        while i < len(lines):
            session = str(uuid.UUID(bytes=hashlib.sha256(f"{project}|{i}".encode()).digest()[:16], version=4))
            number = rng.randint(1, 60)
            for line in lines[i : i + rng.randint(3, 9)]:
                kind, text = KINDS[line[0]], line[2:].strip()
                text, _, old = text.partition(SUPERSEDES)
                supersedes = ()
                if old:
                    (sid,) = [m for t, m in by_text.items() if old in t]
                    supersedes = (sid,)
                when += timedelta(minutes=rng.randint(2, 40))
                number += rng.randint(1, 6)
                mid = memory_id(text)
                by_text[text] = mid
                out.append(
                    Memory(
                        id=mid,
                        text=text,
                        kind=kind,
                        created_at=when.isoformat(timespec="milliseconds"),
                        session_id=session,
                        project=project,
                        sources=(f"{when:%Y-%m-%d}/{number:03d}_{when:%H%M%S}_messages.json",),
                        model=MODEL,
                        supersedes=supersedes,
                    )
                )
                i += 1
            when += timedelta(days=rng.randint(1, 4), hours=rng.randint(-3, 3))
        per_project.append(out)
    # interleave the projects by time, as one analyzer would have written them
    merged = sorted((m for ms in per_project for m in ms), key=lambda m: datetime.fromisoformat(m.created_at))
    ids = [m.id for m in merged]
    assert len(ids) == len(set(ids)), "two memories normalize to the same text"
    return merged


def prompts(mems: list[Memory]) -> list[dict]:
    superseded = {s for m in mems for s in m.supersedes}
    out = []
    for prompt, cwd, fragments, case in PROMPTS:
        expected = []
        for fragment in fragments:
            found = [m for m in mems if fragment in m.text]
            assert len(found) == 1, f"{fragment!r} matches {len(found)} memories"
            (m,) = found
            assert m.id not in superseded, f"{fragment!r} is superseded"
            assert m.project is None or cwd == m.project or cwd.startswith(m.project + "/"), (
                f"{fragment!r} belongs to {m.project}, not {cwd}"
            )
            expected.append(m.id)
        assert (case == "unrelated") <= (not expected)
        out.append({"prompt": prompt, "cwd": cwd, "expected": expected, "case": case})
    return out


def render() -> dict[str, bytes]:
    mems = memories()
    return {
        "memories.jsonl": b"".join(
            json.dumps(m.to_json(), ensure_ascii=False).encode() + b"\n" for m in mems
        ),
        "prompts.jsonl": b"".join(
            json.dumps(p, ensure_ascii=False).encode() + b"\n" for p in prompts(mems)
        ),
    }


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [name for name, data in files.items() if (HERE / name).read_bytes() != data]
        for name in stale:
            print(f"{HERE / name} differs from what make_set.py writes", file=sys.stderr)
        return 1 if stale else 0
    for name, data in files.items():
        (HERE / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
