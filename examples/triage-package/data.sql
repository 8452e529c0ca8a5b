-- The source tables of experiment/experiment.yaml (a real triage experiment file), small and generated:
-- 100 entities, one event per entity per month 2010-01..2014-12 with a random 0/1 outcome,
-- plus a "complaints" table (per entity, monthly count) used for one feature aggregation.
select setseed(0.42);
drop table if exists events;
create table events (entity_id int, outcome int, outcome_date date);
insert into events
select e, (random() < 0.1 + 0.004*e)::int, d::date
from generate_series(1,100) e,
     generate_series('2010-01-01'::date, '2014-12-01'::date, interval '1 month') d;
drop table if exists complaints;
create table complaints (entity_id int, as_of_date date, n_complaints int);
insert into complaints
select e, d::date, floor(random() * (e % 7 + 1))::int
from generate_series(1,100) e,
     generate_series('2010-01-15'::date, '2014-12-15'::date, interval '1 month') d;
