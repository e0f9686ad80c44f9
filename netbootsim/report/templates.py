"""Jinja2 templates of the Markdown and HTML reports, kept as strings in the package.

Both render the same context (see :func:`netbootsim.report.content.build_context`)
plus ``figures``: a list of ``{"file", "title", "caption", "data"}`` dicts, where
``data`` is the PNG as base64 text (HTML) and ``file`` its name beside the Markdown.
"""

from __future__ import annotations

import re

import jinja2

__all__ = ["MARKDOWN", "HTML", "COMPARE_MARKDOWN", "COMPARE_HTML", "environment"]

MARKDOWN = """\
# {{ title | cell }}

{% if question %}
> **Question:** {{ question | cell }}

{% endif %}
{{ lead | cell }}

{% if warnings %}
**Warnings about the scenario** (values it states that are almost surely typos, or lint
warnings of its scripts; `--strict` refuses them):

{% for w in warnings %}
- {{ w | cell }}
{% endfor %}

{% endif %}
| | |
|---|---|
{% for label, value in headline %}
| **{{ label | cell }}** | {{ value | cell }} |
{% endfor %}
{% for f in figures %}

## {{ f.title }}

![{{ f.title }}]({{ f.file }})

{{ f.caption }}
{% endfor %}
{% if groups %}

## By group

| group | servers | completed | failed | p50 | p95 | last ready | bytes |
|---|--:|--:|--:|--:|--:|--:|--:|
{% for g in groups %}
| {{ g.group | cell }} | {{ g.servers }} | {{ g.completed }} | {{ g.failed }} | {{ g.p50 }} \
| {{ g.p95 }} | {{ g.last }} | {{ g.bytes }} |
{% endfor %}
{% endif %}
{% if slow %}

## Slow tail

The {{ slow.rows | length }} servers ready last (of {{ slow.of }} ready; ready counts from \
the first power-on{% if slow.late %}, boot from the server's own{% endif %}), the seconds \
each spent in each phase (every attempt counted), and where each lost most against the median.

| server | group | ready | lost most in{% if slow.late %} | power-on | boot{% endif %}\
{% for c in slow.columns %} | {{ c | cell }}{% endfor %} |
|---|---|--:|---|{% if slow.late %}--:|--:|{% endif %}{% for c in slow.columns %}--:|{% endfor %}

{% for r in [slow.median] + slow.rows %}
| {{ r.server | cell }} | {{ r.group | cell }} | {{ r.ready }} | {{ r.why | cell }}\
{% if slow.late %} | {{ r.power_on }} | {{ r.boot }}{% endif %}\
{% for c in r.cells %} | {{ c }}{% endfor %} |
{% endfor %}
{% if slow.other %}

Other phases: {{ slow.other | cell }}.
{% endif %}
{% endif %}

## Bottleneck attribution

{% if bottlenecks %}
| resource | saturated in all | in the makespan window | max flows limited | from – to |
|---|--:|--:|--:|---|
{% for b in bottlenecks %}
| {{ b.resource | cell }} | {{ b.saturated }} | {{ b.share }} | {{ b.max_flows }} \
| {{ b.window }} |
{% endfor %}
{% if more_bottlenecks %}

… and {{ more_bottlenecks }} more resources.
{% endif %}
{% else %}
No resource limited any flow.
{% endif %}

{% if services %}
## Services under load

| service | kind | limit | pressure |
|---|---|---|---|
{% for v in services %}
| {{ v.service | cell }} | {{ v.kind }} | {{ v.limit | cell }} | {{ v.pressure | cell }} |
{% endfor %}

{% endif %}
{% if costs %}
## Cost

At the scenario's own prices: **{{ costs.total }}**.

| priced | name | quantity | price | amount |
|---|---|--:|--:|--:|
{% for c in costs.rows %}
| {{ c.what }} | {{ c.name | cell }} | {{ c.quantity }} | {{ c.price }} | {{ c.amount }} |
{% endfor %}

{% endif %}
{% if lifecycle %}
## Lifecycle events

After (or while) the fleet is commissioned; each server's part is a row of events.csv, its \
boot's phases are in event-phases.csv (stages named event:stage), and none of them is in \
the fleet's figures and tables above. "p50" is the median time from the event's ask to a \
server's ready.

| event | kind | at | servers | ready | not ready | p50 | result |
|---|---|--:|--:|--:|---|--:|---|
{% for e in lifecycle %}
| {{ e.event | cell }} | {{ e.kind }} | {{ e.at }} | {{ e.servers }} | {{ e.ready }} | \
{{ e.not_ready }} | {{ e.p50 }} | {{ e.result | cell }} |
{% endfor %}

{% endif %}
## Failures

{% if failures %}
{% if failure_timing %}
{{ failure_timing }}

{% endif %}
| reason | servers | % of fleet | first failed | last failed |
|---|--:|--:|--:|--:|
{% for f in failures %}
| {{ f.reason | cell }} | {{ f.servers }} | {{ f.share }} | {{ f.first }} | {{ f.last }} |
{% endfor %}
{% if more_failures %}

… and {{ more_failures.reasons }} more reasons ({{ more_failures.servers }} servers); \
every server's reason is in {{ records_file }}.
{% endif %}
{% else %}
No server failed.
{% endif %}
{% if recovered %}

Failures the servers recovered from (their script or stage tried again and they got
ready; each cost the time shown):

| reason | failed attempts | {{ recovered_who }} | time in them |
|---|--:|--:|--:|
{% for r in recovered %}
| {{ r.reason | cell }} | {{ r.attempts }} | {{ r.servers }} | {{ r.seconds }} |
{% endfor %}
{% if more_recovered %}

… and {{ more_recovered }} more reasons; every attempt is in {{ phases_file }}.
{% endif %}
{% endif %}
{% if not_ready %}

### Servers not ready

| server | group | outcome | phase | reason |
|---|---|---|---|---|
{% for r in not_ready %}
| {{ r.server | cell }} | {{ r.group | cell }} | {{ r.outcome }} | {{ r.phase | cell }} \
| {{ r.reason | cell }} |
{% endfor %}
{% if more_servers %}

… and {{ more_servers }} more servers not listed.
{% endif %}
{% endif %}

## Phase statistics

{% if phase_stats %}
| phase | ok | mean | p95 | total | failed | retries | bytes |
|---|--:|--:|--:|--:|--:|--:|--:|
{% for p in phase_stats %}
| {{ p.phase | cell }} | {{ p.count }} | {{ p.mean }} | {{ p.p95 }} | {{ p.total }} \
| {{ p.failed }} | {{ p.retries }} | {{ p.bytes }} |
{% endfor %}
{% else %}
No phase was recorded.
{% endif %}
{% if random %}

## Random inputs

{{ random.text }}
{% if random.rows %}

| input | drawn per | distribution | stream |
|---|---|---|---|
{% for r in random.rows %}
| {{ r.input | cell }} | {{ r.per | cell }} | {{ r.dist | cell }} | {{ r.stream | cell }} |
{% endfor %}
{% endif %}
{% endif %}
{% if notes %}

## Modelling notes

{% for n in notes %}
- {{ n }}
{% endfor %}
{% endif %}

---

{{ run_info }}
"""

#: The style rules a single report and a compare page share (put in both below).
_COMMON_CSS = """h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.15rem; margin: 1.8rem 0 .5rem; border-bottom: 1px solid #ddd; }
.question { border-left: 4px solid #1f4e79; background: #f3f7fb; margin: .5rem 0;
            padding: .4rem .8rem; }
.lead { font-size: 1.05rem; margin: .6rem 0; }
table { border-collapse: collapse; margin: .4rem 0; }
"""

HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}: commissioning report</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 72rem;
       margin: 1.5rem auto; padding: 0 1rem; }
/*COMMON_CSS*/
th, td { padding: .2rem .7rem; border-bottom: 1px solid #e5e5e5; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.n { white-space: nowrap; }
table.headline th { font-weight: 600; background: #f6f6f6; }
table.slow tr.median td { background: #f6f6f6; font-style: italic; }
table.slow { font-size: .92rem; }
table.slow td:first-child { white-space: nowrap; }
table.slow td:nth-child(4) { min-width: 9rem; }
.wide { overflow-x: auto; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; }
figcaption { color: #555; font-size: .9rem; }
.more, footer { color: #666; font-size: .9rem; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
{% if question %}<p class="question"><strong>Question:</strong> {{ question }}</p>{% endif %}
<p class="lead">{{ lead }}</p>
{% if warnings %}
<div class="warnings" style="border-left: 4px solid #c60; padding: .2rem .8rem;
background: #fff6ee"><strong>Warnings about the scenario</strong> (values it states that
are almost surely typos, or lint warnings of its scripts; <code>--strict</code> refuses them):
<ul>{% for w in warnings %}<li>{{ w }}</li>{% endfor %}</ul></div>
{% endif %}
<table class="headline">
{% for label, value in headline %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>
{% for f in figures %}
<h2>{{ f.title }}</h2>
<figure><img src="data:image/png;base64,{{ f.data }}" alt="{{ f.title }}">
<figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
{% if groups %}
<h2>By group</h2>
<table><tr><th>group</th><th class="n">servers</th><th class="n">completed</th>
<th class="n">failed</th><th class="n">p50</th><th class="n">p95</th>
<th class="n">last ready</th><th class="n">bytes</th></tr>
{% for g in groups %}<tr><td>{{ g.group }}</td><td class="n">{{ g.servers }}</td>
<td class="n">{{ g.completed }}</td><td class="n">{{ g.failed }}</td><td class="n">{{ g.p50 }}</td>
<td class="n">{{ g.p95 }}</td><td class="n">{{ g.last }}</td><td class="n">{{ g.bytes }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if slow %}
<h2>Slow tail</h2>
<p>The {{ slow.rows | length }} servers ready last (of {{ slow.of }} ready; ready counts from
the first power-on{% if slow.late %}, boot from the server's own{% endif %}), the seconds
each spent in each phase (every attempt counted), and where each lost most against the median.</p>
<div class="wide"><table class="slow"><tr><th>server</th><th>group</th><th class="n">ready</th>
<th>lost most in</th>
{% if slow.late %}<th class="n">power-on</th><th class="n">boot</th>{% endif %}
{% for c in slow.columns %}<th class="n">{{ c }}</th>{% endfor %}</tr>
{% for r in [slow.median] + slow.rows %}<tr{% if loop.first %} class="median"{% endif %}>
<td>{{ r.server }}</td><td>{{ r.group }}</td><td class="n">{{ r.ready }}</td><td>{{ r.why }}</td>
{% if slow.late %}<td class="n">{{ r.power_on }}</td><td class="n">{{ r.boot }}</td>{% endif %}
{% for c in r.cells %}<td class="n">{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% if slow.other %}<p class="more">Other phases: {{ slow.other }}.</p>{% endif %}
{% endif %}
<h2>Bottleneck attribution</h2>
{% if bottlenecks %}
<table><tr><th>resource</th><th class="n">saturated in all</th>
<th class="n">in the makespan window</th><th class="n">max flows limited</th><th>from – to</th></tr>
{% for b in bottlenecks %}<tr><td>{{ b.resource }}</td><td class="n">{{ b.saturated }}</td>
<td class="n">{{ b.share }}</td><td class="n">{{ b.max_flows }}</td><td>{{ b.window }}</td></tr>
{% endfor %}</table>
{% if more_bottlenecks %}<p class="more">… and {{ more_bottlenecks }} more resources.</p>{% endif %}
{% else %}<p>No resource limited any flow.</p>{% endif %}
{% if services %}
<h2>Services under load</h2>
<table><tr><th>service</th><th>kind</th><th>limit</th><th>pressure</th></tr>
{% for v in services %}<tr><td>{{ v.service }}</td><td>{{ v.kind }}</td><td>{{ v.limit }}</td>
<td>{{ v.pressure }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if costs %}
<h2>Cost</h2>
<p>At the scenario's own prices: <strong>{{ costs.total }}</strong>.</p>
<table><tr><th>priced</th><th>name</th><th class="n">quantity</th><th class="n">price</th>
<th class="n">amount</th></tr>
{% for c in costs.rows %}<tr><td>{{ c.what }}</td><td>{{ c.name }}</td>
<td class="n">{{ c.quantity }}</td><td class="n">{{ c.price }}</td>
<td class="n">{{ c.amount }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if lifecycle %}
<h2>Lifecycle events</h2>
<p>After (or while) the fleet is commissioned; each server's part is a row of events.csv,
its boot's phases are in event-phases.csv (stages named event:stage), and none of them is
in the fleet's figures and tables above. "p50" is the median time from the event's ask to
a server's ready.</p>
<table><tr><th>event</th><th>kind</th><th class="n">at</th><th class="n">servers</th>
<th class="n">ready</th><th>not ready</th><th class="n">p50</th><th>result</th></tr>
{% for e in lifecycle %}<tr><td>{{ e.event }}</td><td>{{ e.kind }}</td>
<td class="n">{{ e.at }}</td><td class="n">{{ e.servers }}</td><td class="n">{{ e.ready }}</td>
<td>{{ e.not_ready }}</td><td class="n">{{ e.p50 }}</td><td>{{ e.result }}</td></tr>
{% endfor %}</table>
{% endif %}
<h2>Failures</h2>
{% if failures %}
{% if failure_timing %}<p>{{ failure_timing }}</p>{% endif %}
<table><tr><th>reason</th><th class="n">servers</th><th class="n">% of fleet</th>
<th class="n">first failed</th><th class="n">last failed</th></tr>
{% for f in failures %}<tr><td>{{ f.reason }}</td><td class="n">{{ f.servers }}</td>
<td class="n">{{ f.share }}</td><td class="n">{{ f.first }}</td><td class="n">{{ f.last }}</td></tr>
{% endfor %}</table>
{% if more_failures %}<p class="more">… and {{ more_failures.reasons }} more reasons
({{ more_failures.servers }} servers); every server's reason is in {{ records_file }}.</p>
{% endif %}
{% else %}<p>No server failed.</p>{% endif %}
{% if recovered %}
<p>Failures the servers recovered from (their script or stage tried again and they got
ready; each cost the time shown):</p>
<table><tr><th>reason</th><th class="n">failed attempts</th><th class="n">{{ recovered_who }}</th>
<th class="n">time in them</th></tr>
{% for r in recovered %}<tr><td>{{ r.reason }}</td><td class="n">{{ r.attempts }}</td>
<td class="n">{{ r.servers }}</td><td class="n">{{ r.seconds }}</td></tr>
{% endfor %}</table>
{% if more_recovered %}<p class="more">… and {{ more_recovered }} more reasons; every
attempt is in {{ phases_file }}.</p>{% endif %}
{% endif %}
{% if not_ready %}
<h3>Servers not ready</h3>
<table><tr><th>server</th><th>group</th><th>outcome</th><th>phase</th><th>reason</th></tr>
{% for r in not_ready %}<tr><td>{{ r.server }}</td><td>{{ r.group }}</td><td>{{ r.outcome }}</td>
<td>{{ r.phase }}</td><td>{{ r.reason }}</td></tr>
{% endfor %}</table>
{% if more_servers %}
<p class="more">… and {{ more_servers }} more servers not listed.</p>
{% endif %}
{% endif %}
<h2>Phase statistics</h2>
{% if phase_stats %}
<table><tr><th>phase</th><th class="n">ok</th><th class="n">mean</th><th class="n">p95</th>
<th class="n">total</th><th class="n">failed</th><th class="n">retries</th>
<th class="n">bytes</th></tr>
{% for p in phase_stats %}<tr><td>{{ p.phase }}</td><td class="n">{{ p.count }}</td>
<td class="n">{{ p.mean }}</td><td class="n">{{ p.p95 }}</td><td class="n">{{ p.total }}</td>
<td class="n">{{ p.failed }}</td><td class="n">{{ p.retries }}</td>
<td class="n">{{ p.bytes }}</td></tr>
{% endfor %}</table>
{% else %}<p>No phase was recorded.</p>{% endif %}
{% if random %}
<h2>Random inputs</h2>
<p>{{ random.text }}</p>
{% if random.rows %}
<table><tr><th>input</th><th>drawn per</th><th>distribution</th><th>stream</th></tr>
{% for r in random.rows %}<tr><td>{{ r.input }}</td><td>{{ r.per }}</td><td>{{ r.dist }}</td>
<td><code>{{ r.stream }}</code></td></tr>
{% endfor %}</table>
{% endif %}
{% endif %}
{% if notes %}
<h2>Modelling notes</h2>
<ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>
{% endif %}
<footer><hr>{{ run_info }}</footer>
</body>
</html>
"""


#: The comparison page (``compare.md``), from
#: :func:`netbootsim.report.comparison.build_compare_context` plus ``figure``.
COMPARE_MARKDOWN = """\
# Comparison of {{ rows | length }} runs

{% if shared %}
> Question: {{ shared | cell }}

{% elif own_questions %}
Each run asks its own question:

{% for r in rows %}
{% if r.differs %}
- {{ r.run | cell }}: {{ r.differs | cell }}
{% endif %}
{% endfor %}

{% endif %}
{% if answer %}
{{ answer | cell }}

{% endif %}
| run |{% if differs %} what differs |{% endif %} ready | failed | p50 | p95 | p99 | makespan \
| × first |{% if deadline %} by the deadline |{% endif %}{% if cost %} cost |{% endif %} \
line-rate bound | what held it back |
|---|{% if differs %}---|{% endif %}--:|--:|--:|--:|--:|--:|--:|{% if deadline %}--:|{% endif %}\
{% if cost %}--:|{% endif %}--:|---|
{% for r in rows %}
| [{{ r.run | cell }}]({{ r.report }}) |{% if differs %} {{ r.differs | cell }} |{% endif %} \
{{ r.ready }} | {{ r.failed }} | {{ r.p50 }} | {{ r.p95 }} | {{ r.p99 }} | {{ r.makespan }} \
| {{ r.ratio }} |{% if deadline %} {{ r.deadline }} |{% endif %}\
{% if cost %} {{ r.cost }} |{% endif %} {{ r.bound }} \
| {{ r.held | cell }} |
{% endfor %}

{% if replicated %}
Values of replicated runs are means over their replications with their 95 % intervals \
in brackets.

{% endif %}
## {{ figure.title }}

![{{ figure.title }}]({{ figure.file }})

{{ figure.caption }}
{% if failures %}

## Failures

| run | reason | servers | % of its servers | when (since first power-on) |
|---|---|--:|--:|---|
{% for f in failures %}
| {{ f.run | cell }} | {{ f.reason | cell }} | {{ f.servers }} | {{ f.share }} | {{ f.when }} |
{% endfor %}
{% endif %}

## Time by phase

Mean seconds per server in each phase, every attempt counted, phases in boot order.

| phase |{% for n in names %} {{ n | cell }} |{% endfor %}

|---|{% for n in names %}--:|{% endfor %}

{% for p in phases %}
| {{ p.phase | cell }} |{% for c in p.cells %} {{ c }} |{% endfor %}

{% endfor %}
{% if lifecycle %}

## Lifecycle events

Each event of the runs, by what answers it (each run's report has the details).

| event | kind | measure |{% for n in names %} {{ n | cell }} |{% endfor %}

|---|---|---|{% for n in names %}--:|{% endfor %}

{% for e in lifecycle %}
| {{ e.event | cell }} | {{ e.kind }} | {{ e.what }} |\
{% for c in e.cells %} {{ c | cell }} |{% endfor %}

{% endfor %}
{% endif %}
"""

COMPARE_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Comparison of {{ rows | length }} runs</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 80rem;
       margin: 1.5rem auto; padding: 0 1rem; }
/*COMMON_CSS*/
th, td { padding: .2rem .6rem; border-bottom: 1px solid #e5e5e5; text-align: left;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.runs { font-size: .9rem; }
table.runs td:first-child { white-space: nowrap; }
tr.nested td:first-child { padding-left: 1.6rem; color: #555; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; }
figcaption { color: #555; font-size: .9rem; }
.more { color: #666; font-size: .9rem; }
</style>
</head>
<body>
<h1>Comparison of {{ rows | length }} runs</h1>
{% if shared %}<p class="question"><strong>Question:</strong> {{ shared }}</p>
{% elif own_questions %}<div class="question"><strong>Each run asks its own question:</strong>
<ul>{% for r in rows %}{% if r.differs %}<li>{{ r.run }}: {{ r.differs }}</li>{% endif %}
{% endfor %}</ul></div>
{% endif %}
{% if answer %}<p class="lead">{{ answer }}</p>{% endif %}
<table class="runs"><tr><th>run</th>{% if differs %}<th>what differs</th>{% endif %}
<th class="n">ready</th><th class="n">failed</th><th class="n">p50</th><th class="n">p95</th>
<th class="n">p99</th><th class="n">makespan</th><th class="n">× first</th>
{% if deadline %}<th class="n">by the deadline</th>{% endif %}
{% if cost %}<th class="n">cost</th>{% endif %}
<th class="n">line-rate bound</th><th>what held it back</th></tr>
{% for r in rows %}<tr><td><a href="{{ r.report }}">{{ r.run }}</a></td>
{% if differs %}<td>{{ r.differs }}</td>{% endif %}<td class="n">{{ r.ready }}</td>
<td class="n">{{ r.failed }}</td><td class="n">{{ r.p50 | nobreak }}</td>
<td class="n">{{ r.p95 | nobreak }}</td><td class="n">{{ r.p99 | nobreak }}</td>
<td class="n">{{ r.makespan | nobreak }}</td><td class="n">{{ r.ratio }}</td>
{% if deadline %}<td class="n">{{ r.deadline | nobreak }}</td>{% endif %}
{% if cost %}<td class="n">{{ r.cost | nobreak }}</td>{% endif %}
<td class="n">{{ r.bound }}</td><td>{{ r.held }}</td></tr>
{% endfor %}</table>
{% if replicated %}<p class="more">Values of replicated runs are means over their
replications with their 95 % intervals in brackets.</p>{% endif %}
<h2>{{ figure.title }}</h2>
<figure><img src="data:image/png;base64,{{ figure.data }}" alt="{{ figure.title }}">
<figcaption>{{ figure.caption }}</figcaption></figure>
{% if failures %}
<h2>Failures</h2>
<table><tr><th>run</th><th>reason</th><th class="n">servers</th><th class="n">% of its servers</th>
<th class="n">when (since first power-on)</th></tr>
{% for f in failures %}<tr><td>{{ f.run }}</td><td>{{ f.reason }}</td>
<td class="n">{{ f.servers }}</td><td class="n">{{ f.share }}</td>
<td class="n">{{ f.when }}</td></tr>
{% endfor %}</table>
{% endif %}
<h2>Time by phase</h2>
<p>Mean seconds per server in each phase, every attempt counted, phases in boot order.</p>
<table class="phases"><tr><th>phase</th>{% for n in names %}<th class="n">{{ n }}</th>{% endfor %}
</tr>
{% for p in phases %}<tr{% if p.nested %} class="nested"{% endif %}><td>{{ p.phase }}</td>
{% for c in p.cells %}<td class="n">{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if lifecycle %}
<h2>Lifecycle events</h2>
<p>Each event of the runs, by what answers it (each run's report has the details).</p>
<table><tr><th>event</th><th>kind</th><th>measure</th>
{% for n in names %}<th class="n">{{ n }}</th>{% endfor %}</tr>
{% for e in lifecycle %}<tr><td>{{ e.event }}</td><td>{{ e.kind }}</td><td>{{ e.what }}</td>
{% for c in e.cells %}<td class="n">{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}
</body>
</html>
"""


def _cell(value: object) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _nobreak(value: object) -> str:
    """A value with its interval that wraps only before ``[`` or ``by`` (U+00A0 elsewhere).

    ``"5.9 min [5.9, 6.0]"`` breaks as ``5.9 min`` / ``[5.9, 6.0]``, never inside a number
    and its unit.
    """
    return re.sub(r" (?!\[|by )", "\u00a0", str(value))


def environment(html: bool) -> jinja2.Environment:
    """A Jinja2 environment for one of the templates (HTML ones autoescape).

    Args:
        html: whether the output is HTML.

    Returns:
        The environment, with undefined variables an error and a ``cell`` filter.
    """
    env = jinja2.Environment(autoescape=html, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cell"] = _cell
    env.filters["nobreak"] = _nobreak
    return env

HTML = HTML.replace("/*COMMON_CSS*/\n", _COMMON_CSS)
COMPARE_HTML = COMPARE_HTML.replace("/*COMMON_CSS*/\n", _COMMON_CSS)
