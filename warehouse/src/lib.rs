//! The ClickHouse side of MetaFrazo: schema, migrations and every analytical query.
//! SQL here must run on Debian's ClickHouse 18.16 (the local stack) and on a current LTS.
