"""A department of N organisations × 200 participants: a simulated year on the production layout.

Brings up the production layout (deployments/production.py: Prefect server and application
database on PostgreSQL 127.0.0.1:5432 in throwaway databases, `prefect deploy --all`, process
workers each limited to one concurrent run, warm engine launchers, the web app under uvicorn, the
local SMTP sink as relay) once per worker count, creates a department (roadmap
`roadmaps/demo_department_kedrovy.yaml`) with N member schools, each with the generated school's
full questionnaires (deployments/demo_data.py, a seed of its own: ≈200 participants) and the
generic script (deployments/demo.py `generic_script`: every decision two days after it is asked,
through the e-mailed link), and runs the year 2026/2027 for all of them together
(deployments/year.py `run_together`). Printed per worker count:

  wall            seconds of the simulated year (the layout already up)
  runs            flow runs, task runs, process starts (Running states of flow runs)
  growth          pg_database_size of Prefect's and the application's database, before → after
  peak RSS        per process: server, workers, warm launchers, web (uvicorn and its workers),
                  the flow-run processes (the largest), the simulation (this process)
  CPU             seconds per process kind (sampled from /proc; PostgreSQL not included)
  orchestration   time in Prefect: run start → engine start (Pending → Running), each run's
                  Running time outside its task runs (engine setup, state transitions, suspend,
                  teardown), and the simulation's own Prefect calls (creating runs, artifacts);
                  share of the wall time
  concurrency     time-weighted mean of flow runs Running at once, share of the wall with ≥ 2
  by part         the simulation's serial loop (tick rules, mail, decisions, waiting for runs)
                  and the tasks by kind (PDF rendering, mail, database)

Then the ratio of the wall times (1 worker / 2 workers).

Run: uv run python bench/department.py [--organisations 2] [--workers 1,2] [--keep DIR]
     [--profile]   (cProfile of the simulation's process, nNwK.prof beside the results)
     [--batch-size K]  (NASTAVNIK_BATCH_SIZE: most organisations per batch run; 1 = none)

Measured 2026-12-02 10:57–12:11, this machine, nothing else running, d84ab12 (the daily tick's
days as the deployed tick runs them, nastavnik/tick_day.py), the issue's department: N=50
(10 000 participants), K=25, 2 workers then 1 worker, one bench (`--workers 2,1`):

                                   2 workers              1 worker
  wall                             1 538 s (25.6 min)     1 863 s (31.1 min)   ratio 1.21×
  flow runs / task runs / starts   44 / 3 319 / 77        50 / 3 318 / 82; 701 decisions each
  CPU: flow runs                   1 004 s                943 s
       day processes               973 s (see below)      522 s
       Prefect server              421 s                  419 s
       simulation, relay, web      161 + 137 + 49 s       175 + 127 + 48 s
       PostgreSQL (both years)     693 s (the postmaster's children, not in the bench's own sum)
  database growth                  Prefect +274 MB (5.5 MB per organisation), application
                                   +652 MB (13.0 MB per organisation)
  peak RSS                         flow run 286 MB, server 267 MB, simulation 308 MB,
                                   relay 42 MB, web 220 MB, worker 92 MB
  orchestration share of the wall  24.7 % (Pending → Running 4.0 %, Running outside task runs
                                   20.3 %, the simulation's calls 0.4 %)   14.3 % with 1 worker
  runs Running at once             1.04 on average, ≥ 2 at once 44.5 % of the wall
  the simulation's loop            waiting for runs 776 s, the ticks side by side 543 s of wall

Against the last N=50 figure (6a02edf, yesterday's slower machine: 2 463 s, 3 696 CPU-s) the
year is 1.6× shorter; the Prefect server took 421 CPU-s instead of 907. The 2-worker year's
"day processes" CPU is suspect: its parts' process times are the 1-worker year's (tick rules
434 / 416 s, mail 326 / 325 s, status and dashboard 223 / 218 s), and its worker 2 was
restarted once by the layout's supervisor (a Prefect limiter error, fixed since in
deployments/worker.py), probably counted with them: the sampler takes the simulation's own
children for day processes, and the supervisor restarts a worker from that process.
Targets: ≤ 15 min with 2 workers — not met (25.6 min); ≥ 1.7× from the second worker — not met
(1.21×); orchestration ≤ 5 % — not met (24.7 %, of which the runs' time outside their tasks is
most: engine set-up, state changes, suspending, and our own steps there). At ≈ 2 250–2 760
CPU-s plus ≈ 350 of PostgreSQL a year the two cores are busy ≈ 90 % with 2 workers: what would
bring 15 minutes is less work (PDFs are 45 % of the task time, the daily ticks a third of the
CPU), not more workers; a second worker only helps the runs' phase (60 % of the 1-worker wall:
waiting for runs 1 121 s), the ticks' phase and the decisions are the same with one or two.
At 500 organisations (on paper, ≈ 55 CPU-s an organisation): ≈ 27 500 CPU-s a year (≈ 4 h on
2 cores; the day processes and the batch runs spread over more cores, K = organisations /
workers); the deployed tick stays 5–7 task runs a day (bench/tick.py: it was ≈ 3 600 a day at
that size), its days spread over the cores, the department's own day (its dashboard reads
every member's figures, ≈ 20 s a day at 500) started first; ≈ 33 000 task runs a year in the
stage runs (≈ 66 an organisation), +2.7 GB Prefect and +6.5 GB application database a year.

Measured 2026-12-02 07:27–08:12, this machine, one bench at a time, e3601fe (git worktree) and
then main at b528a20, back to back at each size: the tick's reminders and a stage's notices go
into the outbox in batches (one statement compiled once, bench/outbox_insert.py: 2.4× less CPU
per row), workers poll when the server's flow-run events say a run is startable or one of their
runs ended instead of every 0.5 s (deployments/worker.py), the plan's status artifact gets a new
version only when the status changed, the relay keeps messages on disk only:

                                   N=6, K=3                 N=12, K=6
                                   e3601fe  b528a20         e3601fe  b528a20
  wall                             351 s    302 s  1.16×    682 s    550 s  1.24×
  CPU: flow runs                   188 s    175 s           393 s    354 s
       Prefect server              133 s     92 s  −31 %    264 s    164 s  −38 %
       day processes               111 s    100 s           231 s    200 s
       simulation                   31 s     28 s            64 s     52 s
       relay, workers, web          42 s     37 s            87 s     73 s
       all                         505 s    432 s  −14 %   1040 s    844 s  −19 %
  task runs                        405      404             800      798
  Prefect database growth          7.4 MB   5.0 MB          7.1 MB   4.7 MB per organisation
  relay peak RSS                   98 MB    35 MB           163 MB   37 MB
  orchestration share of the wall  43.7 %   43.6 %          40.1 %   39.4 %
  (these shares still count the ticks' reading of the plan and the members' figures for the
  status and dashboard as the simulation's Prefect calls; they are a part of their own since:
  at 337faf5, N=6, K=3, 08:35: wall 281 s, orchestration 28.9 % of the wall — process starts
  11.6 %, runs' time outside their tasks 16.1 %, the simulation's artifacts and starts 1.2 % —
  and "status and dashboard" 36.8 s of the ticks' process time, publishing the status 0.2 s)

The same day's runs on the machine were slower than yesterday's (e3601fe's code: 351 s at N=6
against 259 s for fd24405 yesterday): compare within a column pair only. Per organisation now
(N=12): 46 s of wall and ≈ 70 CPU-s; 50 organisations ≈ 3 500 CPU-s ≥ 29 min on the two cores
if nothing waited. The 15-minute target stays out of reach on this machine: what remains is the
work itself (PDFs 43 % of the task time, the stage tasks' queries, the ticks' reminders and the
daily status and dashboard), the Prefect server's share per task run (≈ 0.2 CPU-s each), and
phases that leave a core idle (mean runs Running at once 0.97 with two workers).

Measured 2026-12-02 05:01–05:43, this machine, nothing else running, 6a02edf: the issue's
department, N=50 (10 000 participants), 2 workers, K=25 (two batch runs per stage and day, one
per worker):

  wall                             2 463 s (41 min; 49 s per organisation)
  flow runs / task runs / starts   60 / 3 322 / 91; 701 decisions
  CPU                              flow runs 1 429 s, Prefect server 907 s, day processes
                                   794 s, simulation 269 s, relay 184 s, web 66 s, workers 47 s
                                   (3 696 CPU-s ≈ 74 per organisation; the 2 cores 75 % busy)
  database growth                  Prefect +379 MB (7.6 MB per organisation), application
                                   +651 MB (13.0 MB per organisation)
  peak RSS                         flow run 285 MB, server 268 MB, simulation 305 MB, a day
                                   process 141 MB, relay 589 MB (the sink keeps every message)
  orchestration share of the wall  36.3 % (Pending → Running 3.8 %, Running outside task runs
                                   18.3 %, the simulation's artifacts and starts 14.3 %)
  a start queued                   12.3 s on average (the two workers' single slots are busy)
  the simulation's loop            waiting for runs 1 222 s, the ticks side by side 907 s of
                                   wall (for 1 657 s of process time), decisions 1 581 s of
                                   thread time (≈2.3 s each: the web page and its wake-up
                                   against a busy Prefect server)
  task time                        PDFs 1 050 s, database and the rest 827 s, mail 286 s

Targets: ≤ 15 min with 2 workers — not met (41 min); the same-code 1-worker year at N=50 was
not run (≥ 45 min more of the session); orchestration ≤ 5 % — not met (36 %). At this cost the
2 cores need ≥ 31 min for the year's 3 700 CPU-s even if nothing waited: the year itself
(PDFs, matching, the ticks' queries, mail, the Prefect server's bookkeeping of 3 300 task runs
and ≈5 000 artifacts) has to get about 2.5× cheaper, or run on more cores. The Prefect server's
907 CPU-s are the largest single process: its task runs (≈0.2 CPU-s each on the server,
measured as 148 fewer task runs → −31 s) and the daily status artifact of every cycle.
At 500 organisations (on paper, from these per-organisation figures): ≈ 37 000 CPU-s a year
(≈ 5 h on 2 cores: a department that size needs more cores, which the day processes and the
batch runs can use, K = organisations / workers), ≈ 33 000 task runs, 7 000 decisions,
≈ 2 000 process starts at K=25 (45 a batch-group a year), +3.8 GB Prefect and +6.5 GB
application database a year, and the relay's or mailbox's ≈ 900 000 messages.

Measured 2026-12-02 early morning, N=6, 2 workers, K=3, one bench at a time, 4aa01a6 (in a git
worktree) and then fd24405, back to back: the organisations' ticks (plan rules, reminders,
status and dashboard, the day's mail) and the evening's refresh run side by side in one process
per core (deployments/year.py run_together: they need only the databases and the relay), and an
approval's opening and ending send their e-mails in their own task runs:

                                   4aa01a6     fd24405
  wall                             342 s       259 s   1.32× faster
  flow runs / task runs / starts   25/590/58   23/442/56   task runs −25 %
  CPU: flow runs                   166 s       150 s
       Prefect server              131 s       100 s   −24 %
       simulation (+ day processes) 128 s      23 + 89 s
  the ticks' phase                 (serial)    91 s of wall for 155 s of process time
  Prefect database growth          +8.3 MB     +7.3 MB per organisation
  orchestration share of the wall  34.3 %      43.9 %  (the same seconds in a shorter wall)

(A cProfile of the simulation, --profile, doubles its CPU: compare runs without it.)

Measured 2026-12-02 night, this machine, one bench at a time, the same code (4de60b9 and after)
with and without batch runs (flows/batch.py: a stage or the organisation reports due on a day
for several organisations run as one run, split into runs of ≤ K; decisions are recorded
before a run is woken, so one wake-up takes all of them):

                                   N=6, 2 w.   N=6, 2 w.        N=6, 1 w.
                                   K=1 (none)  K=3              K=3
  wall                             452 s       369 s  1.22×     404 s
  flow runs / task runs            63 / 594    25 / 589         26 / 589
  process starts                   148         58     −61 %     56
  CPU: flow runs                   204 s       176 s  −14 %     164 s
       Prefect server              194 s       142 s  −27 %     118 s
       simulation                  137 s       132 s            119 s
  Prefect database growth          +10.1 MB    +8.3 MB per organisation
  orchestration share of the wall  49.6 %      36.1 %           24.0 %
    Pending → Running              21.6 %      9.8 %            5.9 %
    Running outside task runs      18.5 %      16.1 %           9.8 %
  a start queued (year / idle)     3.39 / 0.26 s  0.78 / 0.39 s  3.34 / 0.43 s
  runs Running, ≥ 2 at once        24.2 %      31.0 % of the wall

Second worker: 404 s / 369 s = 1.09× (K=3). The simulation's own serial loop (tick rules 75 s,
its mail 39 s, status artifacts 34 s, decisions 25 s) is ≈ 47 % of the wall and does not shrink
with workers. With one batch for all (K=10, N=3, 2 workers, against 893f7b6 the same hour):
wall 260 s against 248 s, process starts 31 against 75, orchestration 23.8 % against 42.9 %,
but two runs at once only 1.1 % of the wall against 16.9 %: one run per stage and day leaves the
second worker idle, hence K (NASTAVNIK_BATCH_SIZE, default 10): a department of 50 has its
stage in five runs of ten.

Per organisation now (N=6, K=3, 2 workers): 61 s of wall, ≈ 82 CPU-s (runs 29, server 24,
simulation 22, relay, worker, web), 4 flow runs, 10 process starts, 98 task runs, +8.3 MB
Prefect and +13.1 MB application database. 50 organisations ≈ 4 100 CPU-s ≥ 34 min on the two
cores: the 15 min target stays out of reach; orchestration 36 % (≤ 5 % asked), the second
worker 1.09× (≥ 1.7× asked). What dominates now is no longer the process starts but the work
itself: PDFs (113 s), the stage tasks' database work (80 s), and the simulation's loop, which
runs each organisation's tick rules in turn (13 s per organisation-year) and publishes a
status artifact per cycle and day.
At 500 organisations (on paper, from these figures): ≈ 41 000 CPU-s a year (≈ 6 h on 2 cores,
so a department that size needs more cores or a lighter year, not more workers alone); 50 batch
runs per stage and day at K=10, ≈ 5 000 process starts and ≈ 49 000 task runs a year; +4 GB
Prefect and +6.5 GB application database a year; the daily tick's rules ≈ 6 300 CPU-s a year
in one process (its loop over cycles would need splitting across processes); the Prefect UI's
artifacts: one status artifact per cycle and day, ≈ 180 000 a year, need a retention policy.

Measured 2026-12-01 late evening (a faster machine than the evening's), 2 workers, one bench at
a time: N=3 (3fbfa21) wall 418 s (139 s per organisation), 35 flow runs, 363 task runs, 78
process starts; CPU server 191 s, flow runs 166 s, simulation 118 s (the 2 cores 62 % busy);
the simulation waited for runs 51 % of the wall; a start queued 2.0 s and took 1.0 s Pending →
Running on average. N=1 (37e0a5d, with the idle baseline): a start queued 0.32 s and took
1.13 s during the year against 0.45 s and 0.94 s on the idle layout before it: with one
organisation a start costs what it costs idle (≈1.4 s), with three its runs queue for the two
workers' single slots. A worker's poll (0.5 s) costs the server ≈3 % of a core per worker on
the idle layout (py-spy: get_scheduled_flow_runs, mark_deployments_ready,
mark_work_queues_ready); Prefect 3.8.8 validates every interval or cron schedule it loads with
zoneinfo.available_timezones(), a walk of the time zone database (≈50 ms a read of the
retry pass's deployment, server and client side alike).

Measured 2026-12-01 evening, N=5, 2 workers, one bench at a time (nothing else running), the
afternoon's code (bb46b0b, in a git worktree) against the new code, back to back. The machine
slowed down by ≈40 % between the two pairs (the same runs: Prefect server 261 → 403 s of CPU),
so only the ratios within a pair count:

                                   first pair (19:23–19:45)   second pair (20:19–20:49)
                                   bb46b0b     3ed9083        bb46b0b     308bacd
  wall                             583 s       549 s  1.06×   808 s       708 s  1.14×
  the simulation's tick rules      147.9 s     117.5 s −21 %  201.6 s     111.7 s −45 %
  SQL statements of the simulation 75 044      51 775  −31 %  75 034      51 773  −31 %
  CPU: simulation                  220 s       191 s  −13 %   290 s       211 s  −27 %
       Prefect server / flow runs  261 / 236 s 254 / 241 s    403 / 320 s 365 / 323 s
  flow runs Running, in all        373 s       379 s          539 s       539 s
  flow runs / task runs / starts   56/594/127  55/595/126     59/599/130  58/598/129
  orchestration share of the wall  46.4 %      47.3 %         48.1 %      53.1 %

What changed: the tick's reminders (plan items, meetings, completion) are queued as a batch —
one query for the keys queued before and a few hundred rows per INSERT … ON CONFLICT DO
NOTHING (tick.MailBatch), not a query and an insert each (≈1 500 a school-year); the plan's
daily refresh reads the cycle's approval requests once, not two queries per stage row (both in
3ed9083); then the curator's monthly summary, which the tick makes for every organisation on
the 1st, is kept as its source and rendered on first opening like a personal document (a
process renders a template's first at once), and a plan row's reminders are not built before
their window (308bacd). The runs are untouched: 129 process starts for 5 schools (Pending →
Running 1.2 s each on the slower machine), the runs' engine work outside task runs ≈1.1 s a
start (a py-spy profile of the forked run processes: their threads mostly wait on the server;
their own CPU outside tasks is small), PDFs ≈200 s of task time. What remains is the design
step named below: stage runs that batch the organisations due on a day.

Measured 2026-12-01 afternoon, N=5, 2 workers, one bench at a time, against the morning's code
(e4a23f2) run the same afternoon: this machine ran the same code 1.75× slower than the
morning's (655 s against 373 s), so only the same-afternoon ratios count:

                                   e4a23f2     now         ratio
  wall                             655 s       482 s       1.36× faster
  flow runs / task runs            57 / 1 622  54 / 594    task runs −63 %
  process starts                   128         125
  SQL statements of the simulation 106 351     74 978      −30 %
  CPU: Prefect server              290 s       193 s       −33 %
       simulation (+ relay)        289 s       178 + 22 s  −31 %
       flow runs                   246 s       214 s       −13 %
  CPU per organisation (all kinds) ≈ 173 s     ≈ 128 s     −26 %
  Prefect / application database   +18.5 / +19.9 MB per organisation → +11.3 / +13.2 MB
  orchestration share of the wall  45.4 %      42.7 %
  (Pending → Running 24.4 → 17.8 %, Running outside task runs 13.5 → 15.4 %, the simulation's
  Prefect calls 7.6 → 9.5 %)

  N=5, 1 worker, now: wall 621 s, CPU flow runs 222 s, server 210 s, simulation 192 s;
  orchestration 28.1 %. Ratio 621 s / 482 s = 1.29× for the second worker (the cores are shared
  with the server, the simulation and PostgreSQL: the same runs spent 317 s Running with two
  workers and 267 s with one).

What changed: a resumed run takes the results of its steps before the pause from the result
store instead of replaying each as a Cached task run (tasks.caching.run_cached_task; a pairing
run resumed four times replayed ≈40); the run's artifacts are made once by the flow itself,
without a task run each (tasks.caching.run_once); workers take a scheduled run one second ahead
of its time, not ten (the minutely retry-deliveries run held a worker's one slot ≈9 s idle);
a mentor gets one meetings-log reminder per due date listing their silent pairs, not one per
pair (the tick's mails ≈3 040 a school-year → ≈1 470); outbox delivery records a batch in two
executed statements; the bench's SMTP relay runs in a process of its own (its CPU shown apart).
The queued time now counts from a scheduled run's time, not from its creation.

Measured 2026-12-01, this machine, one bench at a time (nothing else running):

                                   N=2, 2 w.   N=2, 2 w.   N=5, 2 w.   N=5, 1 w.   N=5, 2 w.
                                   start       after the   after the   after the   after the
                                   (25fb1e8)   tick fixes  tick fixes  tick fixes  launchers'
                                                                                   preload
  wall                             310 s       166 s       471 s       541 s       373 s
  wall per organisation            155 s       83 s        94 s        108 s       75 s
  flow runs that ran / task runs   21 / 662    21 / 659    54 / 1 619  55 / 1 620  52 / 1 617
  process starts                   53          50          125         126         123
  SQL statements of the simulation —           45 515      106 319     106 206     106 304
  CPU: simulation                  162 s       66 s        182 s       193 s       167 s
       flow runs                   95 s        75 s        214 s       184 s       129 s
       Prefect server              95 s        63 s        194 s       167 s       143 s
  CPU per organisation (all kinds) ≈ 180 s     ≈ 105 s     ≈ 122 s     ≈ 113 s     ≈ 93 s
  orchestration share of the wall  41.6 %      36.1 %      44.3 %      25.1 %      45.0 %
  the simulation's tick rules      118 s       35 s        95 s        102 s       89 s
  Prefect / application database   +20 / +21 MB per organisation (unchanged)

  (N=2 at the start sent ≈107 000 statements; the count was added with the first fix.)

  N=5, 1 worker, after the launchers' preload: wall 494 s (99 s per organisation); CPU
  simulation 188 s, Prefect server 148 s, flow runs 129 s; orchestration 32.5 % of the wall.

  N=10, 2 workers, everything above: wall 662 s (66 s per organisation), 102 flow runs, 3 212 task
  runs, 243 process starts, 206 316 statements; CPU simulation 304 s, Prefect server 254 s, flow
  runs 242 s, workers 27 s (≈ 83 CPU-s per organisation; the machine's 2 cores 62 % busy);
  orchestration 47.8 % of the wall (Pending → Running 26.4 %, Running outside task runs 13.6 %,
  the simulation's Prefect calls 7.8 %); +15.4 MB Prefect and +19.5 MB application database per
  organisation; peak RSS server 225 MB, a flow run 260 MB, a warm launcher 232 MB, the
  simulation 437 MB (it grows with N: the cycles' plans and logs it keeps).

What changed: the daily reminders (meetings and completion) issue the personal links of a day
together (links.personal_urls) and only for a message that goes out, look up a day's outbox
keys in one query, and add each reminder in one statement (INSERT … ON CONFLICT DO NOTHING);
a session reads an organisation's policy once; outbox delivery reads the installation's time
once a batch; the department's morning figures skip the per-mentor scorecards they never
show; the simulation's poll of its runs backs off to 0.5 s while nothing changes; the
production warm launchers preload what the embedded fork server does (the PostgreSQL driver,
WeasyPrint with a first document, openpyxl, numpy, OR-Tools: ≈1 s of each rendering run).
Before: a profile of one school's year on PostgreSQL spent 70 s of the tick's 118 s issuing
10 753 personal links, ten statements each, mostly for reminders already sent.

Ratio at N=5: 494 s / 373 s = 1.32× for the second worker with everything above (541 s / 471 s
= 1.15× after the tick fixes alone). Two workers on two cores share them with the simulation,
the Prefect server and PostgreSQL: the same runs spent 362 s Running with two workers against
242 s with one (after the tick fixes). The machine is CPU-bound (≈ 93 CPU-s per organisation-year
on 2 cores), so a second worker mostly splits the CPU.

What dominates now (N=5, 2 workers, per organisation and year): ≈ 33 CPU-s in the simulation
(tick rules ≈ 18 s of its wall: ≈ 3 000 e-mails a school-year, mostly reminders, because the
generic script's mentors never log a meeting; their SMTP delivery ≈ 11 s; status artifacts 4 s),
≈ 29 CPU-s of Prefect server (324 task runs, 25 process starts, the runs' state transitions and
polls), ≈ 26 CPU-s in the flow runs (PDFs ≈ 14 s of task time), ≈ 3 s the workers. The most task
runs: deliver-messages, publish-table, open-approval-request, publish-documents: a resumed run
replays every task before its pause as a Cached task run (open-approval-request ran 182 times
for 71 requests).

On paper, from N=10: 50 organisations ≈ 50 × 66 s ≈ 55 min with 2 workers (≈ 4 150 CPU-s: at
least 35 min on 2 cores however the work is spread), against ≤ 15 min; the 15-minute target
allows 36 CPU-s per organisation-year and the year costs ≈ 83. 500 organisations: ≈ 7.7 GB of
Prefect and 9.8 GB of application database, 160 000 task runs, 5 100 flow runs, 12 000 process
starts, ≈ 41 000 CPU-s (≈ 6 h on 2 cores), the simulation's serial loop (≈ 30 CPU-s an
organisation) alone ≈ 4 h: it would have to run the organisations' days in parallel. In a
real year that loop is people and the daily tick: its rules cost ≈ 0.15 s per organisation and
day here (157.6 s over 11 cycles × 93 days), ≈ 80 s a morning for 500 in one tick run.
Targets: ≤ 15 min for 50 — not met (≈ 3.7× over, from ≈ 6.3× at the start of the day);
≥ 1.7× from a second worker — not met (1.32× at N=5: CPU-bound); orchestration ≤ 5 % — not met
(≈ 45 %: process starts, the runs' engine work outside tasks and replayed cached task runs).
What is left to change is in the runs: stage runs that batch the organisations due on a day (one
process start, one engine setup and one replay per stage and day, not per organisation), and a
resumed run that does not replay its cached tasks as task runs.

Measured 2026-11-30 on this 2-core machine, shared with other sessions (load average 4–10
during the runs: absolute seconds are inflated, the shares less so). 50 organisations did not fit
the time; N = 1 and 2 did:

                                   N=1, 2 workers   N=2, 2 workers   N=2, 1 worker
                                   serial (old)     concurrent       concurrent
  wall                             800 s            741 s            901 s
  flow runs / task runs            10 / 337         19 / 653         19 / 653
  process starts (Running states)  25               48               48
  Prefect database growth          +44 MB           +57 MB           +46 MB
  application database growth      +21 MB           +41 MB           +41 MB
  runs Running at once (mean)      0.53             0.90             0.50
  wall with ≥ 2 runs Running       0.4 %            38 %             —
  orchestration share of wall      24.8 %           30.3 %           23.3 %
    Pending → Running              7.7 %            11.4 %           8.3 %
    Running outside task runs      3.8 %            7.0 %            4.0 %
    simulation's Prefect calls     13.2 %           11.9 %           11.0 %
  flow runs Running, in all        422 s            668 s            446 s
  task time: PDF rendering         258 s            419 s            245 s
  the simulation's own serial loop 300 s (37 %)     342 s (46 %)     374 s (42 %)
  CPU: flow runs / simulation /    169 / 205 /      336 / 302 /      309 / 328 /
       Prefect server              173 s            207 s            183 s

Measured again 2026-11-30 evening, quiet machine (only the bench), after personal documents
became rendered on first opening and approvers' e-mails stopped attaching them (no Alembic load
per run, and a TLS context per process, since taken back): N=2 → 375 s with 2 workers,
489 s with 1 (1.30×); CPU for the two
schools and the department: flow runs 146 s, the simulation 187 s, the Prefect server 120 s
(≈ 225 CPU-s per organisation, against ≈ 440 before); PDF tasks 60 s (were 419 s); the
simulation's serial loop is now the largest part (tick rules 133 s, its mail 43 s: PostgreSQL
round trips of the rules run per school and day). 50 organisations ≈ 11 000 CPU-s ≈ 95 min on
2 cores: the 15 min target is still out of reach.

Ratio at N = 2: 901 s / 741 s = 1.22× for the second worker. The same 19 runs spent 668 s
Running with two workers against 446 s with one: on two cores shared with the simulation, the
Prefect server, PostgreSQL (and here other sessions) two runs at once mostly split the CPU.
("Simulation's Prefect calls" includes building the status markdown it publishes.)
  peak RSS: server 222 MB, worker 109 MB, warm launcher 162 MB, web (uvicorn) 187 MB, a flow
  run 258 MB, the simulation 365–411 MB (all N=2 figures)

(N=1 ran with the organisations one after another each day, the code before run_together's
PostgreSQL mode; with one organisation the two modes differ only in the department's runs.)

Per organisation (N=2): ≈ 330 s of flow-run Running time (PDFs ≈ 210 s of it), 24 process
starts, 9.5 flow runs, 325 task runs, +28 MB Prefect and +21 MB application database, ≈ 440 s
of CPU in all (runs 170, simulation 150, Prefect server 100).

On paper (2026-11-30): 50 organisations need ≈ 22 000 CPU-seconds, ≥ 3 h on 2 cores with perfect
parallelism; the 15-minute target (1 800 CPU-seconds) allows 36 CPU-seconds per organisation-year,
about the eagerly rendered PDFs of 200 participants alone at the unloaded 0.11 s a page.
500 organisations: ≈ 14 GB of Prefect database, 10 GB of application database, 160 000 task
runs, 4 750 flow runs, 12 000 process starts, and the simulation's serial loop (≈ 150 s per
organisation per year) alone ≈ 21 h. Targets: ≤ 15 min for 50 — not met (≈ 12× over);
≥ 1.7× from 2 workers — not met (1.22×; the serial loop caps it at
1 / (0.46 + 0.54 / 2) ≈ 1.4× at N = 2, the cores at less); orchestration ≤ 5 % — not met
(8–18 % in the runs alone, 23–30 % with the simulation's calls).

What would meet them: stage runs that batch the organisations due on a day (one process start
and one run's Prefect overhead per stage and day, not per organisation: the share falls as 1/N);
PDFs rendered on first download, or per organisation in one document, not 124 programmes and
150 consent forms eagerly; the simulation's tick batched over all cycles (or run on a thread per
organisation on PostgreSQL), one department artifact a day, and one filtered query for the runs'
states instead of one read per run every 0.2 s (the server's CPU is mostly polling).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHOOL_ROADMAP = PROJECT_ROOT / "roadmaps" / "demo_school3_kedrovy.yaml"
DEPARTMENT_ROADMAP = PROJECT_ROOT / "roadmaps" / "demo_department_kedrovy.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def member(number: int) -> dict[str, str]:
    """The n-th member school of the benchmark's department."""
    return {
        "code": f"bench-school-{number:03d}",
        "name": f"МБОУ «Средняя общеобразовательная школа № {number}» г. Кедровый",
        "short_name": f"СОШ № {number}",
        "city": "г. Кедровый",
        "director_name": "Смирнова Елена Викторовна",
        "director_email": f"director@school{number}.example.ru",
        "curator_name": "Орлов Игорь Николаевич",
        "curator_email": f"curator@school{number}.example.ru",
    }


# --- processes: peak RSS and CPU, sampled from /proc -------------------------------------------


def _read_proc(pid: int) -> tuple[int, int, float, str, int] | None:
    """(RSS kB, peak RSS kB, CPU seconds, command line, parent pid) of a live process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in status.splitlines()}
    rss = int(fields.get("VmRSS", "0 kB").split()[0])
    hwm = int(fields.get("VmHWM", "0 kB").split()[0])
    after_name = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(after_name[11]) + int(after_name[12])) / ticks
    return rss, hwm, cpu, cmdline, int(after_name[1])


DAY_PROCESSES = "simulation's day processes"


class ProcessSampler:
    """Samples every process of the layout twice a second: peak RSS and CPU per process kind."""

    def __init__(self, marker: str, named: dict[int, str]) -> None:
        self.marker, self.named = marker, named
        self.peak: dict[str, int] = defaultdict(int)  # kind → largest peak RSS of one process
        self.cpu: dict[int, tuple[str, float]] = {}  # pid → (kind, last CPU seconds seen)
        self.cpu_before: dict[int, float] = {}
        self.runs_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def kind(self, pid: int, cmdline: str, parent: int) -> str:
        if pid in self.named:
            return self.named[pid]
        if self.named.get(parent) == "web":
            return "web"
        if "warm_engine run" in cmdline:
            return "run client"
        if parent == os.getpid():  # run_together's processes for the organisations' days
            return DAY_PROCESSES
        return "flow runs"

    def sample(self) -> None:
        from deployments.production import marked_processes

        for pid in marked_processes(self.marker):
            seen = _read_proc(pid)
            if seen is None:
                continue
            rss, hwm, cpu, cmdline, parent = seen
            kind = self.kind(pid, cmdline, parent)
            if kind == "flow runs":
                self.runs_seen.add(pid)
            self.peak[kind] = max(self.peak[kind], hwm, rss)
            self.cpu_before.setdefault(pid, cpu)
            self.cpu[pid] = (kind, cpu)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.5)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def cpu_by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for pid, (kind, cpu) in self.cpu.items():
            # Long-lived processes count from the year's start; runs from their own start.
            base = self.cpu_before.get(pid, 0.0) if kind != "flow runs" else 0.0
            totals[kind] += cpu - base
        return dict(totals)


# --- Prefect's records: runs, states, task runs ------------------------------------------------


async def _all_flow_runs() -> list[Any]:
    from prefect.client.orchestration import get_client

    runs: list[Any] = []
    async with get_client() as client:
        while True:
            page = await client.read_flow_runs(offset=len(runs), limit=200)
            runs.extend(page)
            if len(page) < 200:
                return runs


async def _all_task_runs() -> list[Any]:
    from prefect.client.orchestration import get_client

    tasks: list[Any] = []
    async with get_client() as client:
        while True:
            page = await client.read_task_runs(offset=len(tasks), limit=200)
            tasks.extend(page)
            if len(page) < 200:
                return tasks


async def _states(run_ids: list[Any]) -> dict[Any, list[Any]]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return {
            run_id: sorted(await client.read_flow_run_states(run_id), key=lambda s: s.timestamp)
            for run_id in run_ids
        }


# Runs of the retry pass before the year: what a start costs on the idle layout, the baseline
# of the year's per-start figures measured in the same run.
BASELINE_RUNS = 5
BASELINE_TAG = "bench-idle-baseline"


async def _idle_start_baseline(runs: int = BASELINE_RUNS) -> dict[str, float]:
    """Median seconds queued (Scheduled → Pending) and starting (Pending → Running) of a few
    runs of the retry pass, one after another, on the layout with nothing else running."""
    from statistics import median

    from prefect.client.orchestration import get_client

    queued: list[float] = []
    starting: list[float] = []
    async with get_client() as client:
        deployment = await client.read_deployment_by_name("retry-deliveries/retry-deliveries")
        for _ in range(runs):
            run = await client.create_flow_run_from_deployment(
                deployment.id, parameters={}, tags=[BASELINE_TAG]
            )
            while True:
                state = (await client.read_flow_run(run.id)).state
                if state is not None and state.is_final():
                    break
                await asyncio.sleep(0.05)
            _, run_starting, run_queued, run_starts = _running_intervals(
                sorted(await client.read_flow_run_states(run.id), key=lambda s: s.timestamp)
            )
            if run_starts:
                queued.append(run_queued)
                starting.append(run_starting / run_starts)
            await asyncio.sleep(1.0)  # the worker's slot free again, its process gone
    return {"runs": len(queued), "queued": median(queued), "starting": median(starting)}


def _running_intervals(states: list[Any]) -> tuple[list[tuple[float, float]], float, float, int]:
    """The run's Running intervals (epoch seconds), seconds Pending → Running, seconds queued
    (Scheduled/Resuming → Pending, from the scheduled time), and how many times it was started."""
    intervals: list[tuple[float, float]] = []
    starting = queued = 0.0
    starts = 0
    pending_since = scheduled_since = running_since = None
    for state in states:
        moment = state.timestamp.timestamp()
        kind = state.type.value
        if running_since is not None and kind != "RUNNING":
            intervals.append((running_since, moment))
            running_since = None
        if kind == "SCHEDULED" or state.name == "Resuming":
            # A scheduled deployment's run (retry-deliveries) waits for its time, not a worker.
            due = state.state_details.scheduled_time
            scheduled_since = max(moment, due.timestamp()) if due is not None else moment
        elif kind == "PENDING":
            if scheduled_since is not None:
                queued += moment - scheduled_since
                scheduled_since = None
            pending_since = moment
        elif kind == "RUNNING" and running_since is None:
            starts += 1
            if pending_since is not None:
                starting += moment - pending_since
                pending_since = None
            running_since = moment
    return intervals, starting, queued, starts


def _concurrency(
    intervals: list[tuple[float, float]], begin: float, end: float
) -> tuple[float, float]:
    """Time-weighted mean of intervals open at once over [begin, end], and the share with ≥ 2."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    open_now, last, weighted, two_or_more = 0, begin, 0.0, 0.0
    for moment, step in events:
        moment = min(max(moment, begin), end)
        weighted += open_now * (moment - last)
        if open_now >= 2:
            two_or_more += moment - last
        open_now, last = open_now + step, moment
    span = max(end - begin, 1e-9)
    return weighted / span, two_or_more / span


def _task_kind(name: str) -> str:
    if (
        name.startswith("render")
        or "pdf" in name
        or "programmes" in name
        or "consent-forms" in name
    ):
        return "PDF rendering"
    if "deliver" in name or "mail" in name or "notices" in name:
        return "mail"
    return "database and the rest"


def _database_sizes(config: Any) -> dict[str, int]:
    import psycopg

    with psycopg.connect(config.database_url("postgres"), autocommit=True) as connection:
        return {
            name: int(
                connection.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]  # type: ignore[index]
            )
            for name in (config.prefect_database, config.app_database)
        }


# --- one year ----------------------------------------------------------------------------------


def run_department(
    organisations: int, workers: int, serial: bool, profile: Path | None = None
) -> dict[str, Any]:
    """In this process: the layout, the department and its members, then the timed year."""
    from deployments.production import (
        ProductionConfig,
        ProductionStack,
        create_databases,
        drop_databases,
    )
    from nastavnik.settings import get_settings

    suffix = os.urandom(4).hex()
    settings = get_settings()
    config = ProductionConfig(
        settings=settings,
        prefect_database=f"bench_prefect_{suffix}",
        app_database=f"bench_nastavnik_{suffix}",
        prefect_port=settings.prefect_port,
        web_port=settings.web_port,
        workers=workers,
        worker_limit=1,
    )
    create_databases(config)
    stack = ProductionStack(config, extra_environment={"NASTAVNIK_CLOCK": "simulated"})
    # This process talks to the layout's Prefect and database too; Prefect reads its settings
    # when first imported, which is after this.
    os.environ.update(stack.environment)
    get_settings.cache_clear()
    # The relay runs in a process of its own, as a real one does: its CPU is not the
    # simulation's, and the messages it keeps are not in the simulation's memory.
    sink = _start_relay(settings.mail_dir, int(settings.smtp_url.rsplit(":", 1)[-1]))
    began = time.monotonic()
    try:
        stack.start()
        _log(f"layout up in {time.monotonic() - began:.1f} s ({workers} worker(s), limit 1)")
        return _year(stack, organisations, workers, serial, profile, relay_pid=sink.pid)
    finally:
        stack.stop()
        sink.terminate()
        sink.wait(timeout=30)
        drop_databases(config)


RELAY = """
import signal, sys
from pathlib import Path
from nastavnik.smtp_sink import MailSink

sink = MailSink(directory=Path(sys.argv[1]), port=int(sys.argv[2]), keep_messages=False).start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
sink.stop()
"""


def _start_relay(directory: Path, port: int) -> subprocess.Popen[str]:
    """The local SMTP sink as the layout's relay, in a process of its own (ready on return)."""
    process = subprocess.Popen(
        [sys.executable, "-c", RELAY, str(directory), str(port)],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the SMTP relay did not start")
    return process


def _year(
    stack: Any,
    organisations: int,
    workers: int,
    serial: bool,
    profile: Path | None,
    relay_pid: int,
) -> dict[str, Any]:
    from sqlmodel import func, select

    from deployments.demo import (
        YEAR_END,
        YEAR_START,
        generic_script,
        link_decider,
        start_demo_cycle,
        use_simulated_clock,
    )
    from deployments.demo_data import write_demo_questionnaires
    from deployments.demo_department import (
        DEPARTMENT_ORG,
        upsert_department,
        with_report_decisions,
    )
    from deployments.year import ScriptedDecision, YearScript, YearSimulation, run_together
    from models import Participant
    from nastavnik.db import get_engine, session_scope
    from nastavnik.settings import get_settings

    use_simulated_clock()
    settings = get_settings()
    members = [member(number) for number in range(1, organisations + 1)]
    upsert_department(members=members, kinds={m["code"]: "school" for m in members})
    decide = link_decider(settings)
    simulations: list[YearSimulation] = []

    def simulate(code: str, cycle_id: Any, script: YearScript) -> None:
        simulations.append(
            YearSimulation(
                settings=settings,
                cycle_id=cycle_id,
                script=script,
                decide=decide,
                on_line=lambda day, line: _log(f"{day:%d.%m.%Y} {code}: {line}"),
                # With one worker, one organisation's runs queue behind all the others'.
                run_timeout=3600,
            )
        )

    department_cycle = start_demo_cycle(DEPARTMENT_ORG["code"], DEPARTMENT_ROADMAP)
    simulate(
        DEPARTMENT_ORG["code"],
        department_cycle,
        YearScript(decisions={"analytic-report": ScriptedDecision(2, comment="Утверждаю.")}),
    )
    for number, organization in enumerate(members, start=1):
        cycle_id = start_demo_cycle(organization["code"], SCHOOL_ROADMAP)
        files = write_demo_questionnaires(
            settings.data_dir.resolve() / "bench" / organization["code"], seed=3000 + number
        )
        simulate(
            organization["code"],
            cycle_id,
            with_report_decisions(generic_script(files=files, cycle_id=cycle_id)),
        )

    idle = asyncio.run(_idle_start_baseline())
    _log(
        f"idle layout: a start queued {idle['queued']:.2f} s, Pending → Running"
        f" {idle['starting']:.2f} s (median of {idle['runs']:.0f} runs of the retry pass)"
    )
    sizes_before = _database_sizes(stack.config)
    named = {process.pid: name.rsplit("-", 1)[0] for name, process in stack.processes.items()}
    named = {pid: ("server" if kind == "prefect" else kind) for pid, kind in named.items()}
    named[relay_pid] = "smtp relay"
    sampler = ProcessSampler(stack.marker, named)
    sampler.start()
    cpu_self_before = time.process_time()
    cpu_children_before = _children_cpu()
    started = time.time()
    statements = _count_statements(get_engine())
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    run_together(simulations, start=YEAR_START, end=YEAR_END, concurrent=not serial)
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    ended = time.time()
    wall = ended - started
    sampler.stop()
    sizes_after = _database_sizes(stack.config)
    with session_scope() as session:
        participants = session.exec(select(func.count()).select_from(Participant)).one()

    # Runs that ran: the scheduled deployments (the daily tick, the retry pass) keep runs
    # Scheduled ahead in real time that never start in a simulated year.
    flow_runs = [
        run
        for run in asyncio.run(_all_flow_runs())
        if run.start_time is not None and BASELINE_TAG not in run.tags
    ]
    year_runs = {run.id for run in flow_runs}
    task_runs = [t for t in asyncio.run(_all_task_runs()) if t.flow_run_id in year_runs]
    states = asyncio.run(_states([run.id for run in flow_runs]))
    intervals: list[tuple[float, float]] = []
    starting = queued = running = 0.0
    starts = 0
    for run_states in states.values():
        run_intervals, run_starting, run_queued, run_starts = _running_intervals(run_states)
        intervals += run_intervals
        starting += run_starting
        queued += run_queued
        starts += run_starts
        running += sum(b - a for a, b in run_intervals)
    in_tasks: dict[str, float] = defaultdict(float)
    by_task: dict[str, float] = defaultdict(float)
    for task_run in task_runs:
        if task_run.total_run_time is None:
            continue
        seconds = task_run.total_run_time.total_seconds()
        name = task_run.name.rsplit("-", 1)[0]
        in_tasks[_task_kind(name)] += seconds
        by_task[name] += seconds
    outside_tasks = max(running - sum(in_tasks.values()), 0.0)
    parts: dict[str, float] = defaultdict(float)
    for simulation in simulations:
        for part, seconds in simulation.log.seconds.items():
            parts[part] += seconds
    # Publishing the artifacts and creating the runs; the status and dashboard's markdown is
    # the ticks' own work ("status and dashboard", counted there since 2026-12-02: before, the
    # two were one part, and this share counted the day processes' reading of the plan too).
    simulation_prefect = parts.get("status artifact", 0.0) + parts.get("starting stage runs", 0.0)
    mean_running, two_or_more = _concurrency(intervals, started, ended)
    return {
        "organisations": organisations,
        "workers": workers,
        "mode": "serial" if serial else "concurrent",
        "batch_size": simulations[0].settings.batch_size,
        "participants": int(participants),
        "wall": wall,
        "flow_runs": len(flow_runs),
        "task_runs": len(task_runs),
        "process_starts": starts,
        "decisions": sum(s.log.decisions for s in simulations),
        "simulation_statements": statements[0],
        "days": max(s.log.days_ticked for s in simulations),
        "sizes_before": sizes_before,
        "sizes_after": sizes_after,
        "peak_rss_mb": {k: v / 1024 for k, v in sampler.peak.items()}
        | {"simulation": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
        "cpu": sampler.cpu_by_kind()
        | {
            "simulation": time.process_time() - cpu_self_before,
            # run_together's processes for the organisations' ticks (ended with the year).
            DAY_PROCESSES: _children_cpu() - cpu_children_before,
        },
        "flow_run_processes": len(sampler.runs_seen),
        "orchestration": {
            "Pending → Running (process start)": starting,
            "Running outside task runs": outside_tasks,
            "simulation's Prefect calls (runs, artifacts)": simulation_prefect,
        },
        "queued": queued,
        "running": running,
        "idle_start": idle,
        "tasks": dict(in_tasks),
        "top_tasks": dict(sorted(by_task.items(), key=lambda kv: -kv[1])[:8]),
        "most_task_runs": dict(
            sorted(
                Counter(t.name.rsplit("-", 1)[0] for t in task_runs).items(),
                key=lambda kv: -kv[1],
            )[:10]
        ),
        "simulation_parts": dict(parts),
        "mean_running": mean_running,
        "two_or_more": two_or_more,
    }


def _children_cpu() -> float:
    """CPU seconds of this process's children that ended (the layout's still run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _count_statements(engine: Any) -> list[int]:
    """A counter of the SQL statements this process sends to the application database."""
    from sqlalchemy import event

    counter = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        counter[0] += 1

    return counter


# --- report ------------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def report(result: dict[str, Any]) -> str:
    wall = result["wall"]
    n = result["organisations"]
    lines = [
        f"{n} organisation(s) + the department, {result['workers']} worker(s) limited to 1 run,"
        f" run_together {result.get('mode', 'serial')},"
        f" batch runs of ≤ {result.get('batch_size', 1)} organisations:"
        f" wall {wall:.0f} s ({wall / n:.0f} s per organisation),"
        f" {result['participants']} participants, {result['days']} days with events,"
        f" {result['decisions']} decisions",
        f"  runs: {result['flow_runs']} flow runs, {result['task_runs']} task runs,"
        f" {result['process_starts']} process starts ({result['flow_run_processes']} run"
        f" processes seen); the simulation sent"
        f" {result.get('simulation_statements', 0)} SQL statements",
    ]
    for name in result["sizes_before"]:
        before, after = result["sizes_before"][name], result["sizes_after"][name]
        lines.append(
            f"  database {name}: {_mb(before)} → {_mb(after)} (+{_mb(after - before)},"
            f" {(after - before) / n / 1e6:.1f} MB per organisation)"
        )
    rss = ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(result["peak_rss_mb"].items()))
    lines.append(f"  peak RSS (largest process of each kind): {rss}")
    cpu = ", ".join(
        f"{k} {v:.0f} s" for k, v in sorted(result["cpu"].items(), key=lambda kv: -kv[1])
    )
    lines.append(f"  CPU: {cpu}")
    orchestration = sum(result["orchestration"].values())
    lines.append(
        f"  orchestration {orchestration:.0f} s = {orchestration / wall:.1%} of the wall"
        f" ({orchestration / (wall * result['workers']):.1%} of wall × workers):"
    )
    for part, seconds in result["orchestration"].items():
        lines.append(f"    {part:<46} {seconds:7.1f} s  {seconds / wall:6.1%}")
    starts = max(result["process_starts"], 1)
    idle = result.get("idle_start")
    if idle:
        per_start = result["orchestration"]["Pending → Running (process start)"] / starts
        queued_per_start = result["queued"] / starts
        lines.append(
            f"  a start during the year: queued {queued_per_start:.2f} s, Pending → Running"
            f" {per_start:.2f} s; on the idle layout before it: {idle['queued']:.2f} s and"
            f" {idle['starting']:.2f} s ({queued_per_start / idle['queued']:.1f}× and"
            f" {per_start / idle['starting']:.1f}×)"
        )
    lines.append(
        f"  flow runs Running {result['running']:.0f} s in all, queued (Scheduled/Resuming →"
        f" Pending) {result['queued']:.0f} s; mean runs Running at once"
        f" {result['mean_running']:.2f}, ≥ 2 at once {result['two_or_more']:.1%} of the wall"
    )
    lines.append("  task runs by kind:")
    for part, seconds in sorted(result["tasks"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {part:<46} {seconds:7.1f} s  {seconds / wall:6.1%}")
    for part, seconds in result["top_tasks"].items():
        lines.append(f"      task {part:<41} {seconds:7.1f} s")
    lines.append(
        "  most task runs: "
        + ", ".join(f"{name} {count}" for name, count in result.get("most_task_runs", {}).items())
    )
    lines.append(
        "  the simulation's loop (the ticks' parts are the day processes' time added up when"
        " they ran side by side):"
    )
    for part, seconds in sorted(result["simulation_parts"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {part:<46} {seconds:7.1f} s  {seconds / wall:6.1%}")
    return "\n".join(lines)


def _run_child(
    organisations: int,
    workers: int,
    serial: bool,
    scratch: Path,
    profile: bool,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """One worker count in a fresh process, data directory and set of ports."""
    data = scratch / f"n{organisations}-w{workers}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NASTAVNIK_"))}
    if batch_size is not None:
        env["NASTAVNIK_BATCH_SIZE"] = str(batch_size)
    web_port = _free_port()
    env |= {
        "NASTAVNIK_DATA_DIR": str(data),
        "NASTAVNIK_PREFECT_PORT": str(_free_port()),
        "NASTAVNIK_WEB_PORT": str(web_port),
        "NASTAVNIK_WEB_BASE_URL": f"http://127.0.0.1:{web_port}",
        "NASTAVNIK_SMTP_URL": f"smtp://127.0.0.1:{_free_port()}",
    }
    out = scratch / f"n{organisations}-w{workers}.json"
    command = [sys.executable, __file__, "--child", str(out)]
    command += ["--organisations", str(organisations), "--workers", str(workers)]
    command += ["--serial"] if serial else []
    command += ["--profile", str(scratch / f"n{organisations}-w{workers}.prof")] if profile else []
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True)
    return dict(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--organisations", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="worker counts, one year each")
    parser.add_argument("--keep", type=Path, help="keep data, logs and results in this directory")
    parser.add_argument(
        "--serial",
        action="store_true",
        help="organisations one after another each day (as on SQLite), not settled together",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const=Path("-"),
        type=Path,
        help="cProfile the simulation's own process (nWwK.prof beside the results)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help="most organisations per batch run (NASTAVNIK_BATCH_SIZE; default: the setting's)",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_department(args.organisations, int(args.workers), args.serial, args.profile)
        args.child.write_text(json.dumps(result, default=str))
        print(report(result), flush=True)
        return

    with tempfile.TemporaryDirectory(prefix="department-bench-") as tmp:
        scratch = args.keep.resolve() if args.keep else Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        results = {}
        for workers in (int(w) for w in args.workers.split(",")):
            results[workers] = _run_child(
                args.organisations,
                workers,
                args.serial,
                scratch,
                args.profile is not None,
                args.batch_size,
            )
    print()
    for result in results.values():
        print(report(result))
    if 1 in results and len(results) > 1:
        for workers, result in results.items():
            if workers != 1:
                ratio = results[1]["wall"] / result["wall"]
                print(f"wall 1 worker / {workers} workers: {ratio:.2f}×")


if __name__ == "__main__":
    main()
