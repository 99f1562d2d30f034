/* status_page.c: the status page (self-contained HTML with an inline SVG world map) and its
 * JSON twin, rendered from the same facts as the metrics. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "metrics.h"

/* The map: equirectangular, 1000 x 500 for the whole world; the view leaves out the far south. */
#define MAP_W      1000.0
#define MAP_H      500.0
#define MAP_VIEW   "0 10 1000 410"
#define MAP_GRID   30 /* degrees between graticule lines */
#define DOT_MIN    5.0
#define DOT_SPAN   11.0 /* radius added at RATIO_FULL */
#define RATIO_FULL 1.2  /* load ratio drawn with the largest circle */
#define SHARE_FULL 0.999

static double map_x(double lon)
{
    return (lon + 180.0) * MAP_W / 360.0;
}

static double map_y(double lat)
{
    return (90.0 - lat) * MAP_H / 180.0;
}

status_pop_class_t status_pop_classify(const health_pop_report_t *r)
{
    if (r->override)
        return STATUS_POP_OVERRIDDEN;
    if (r->state != HEALTH_UP)
        return STATUS_POP_DOWN;
    return r->keep < SHARE_FULL ? STATUS_POP_SHEDDING : STATUS_POP_UP;
}

const char *status_pop_class_name(status_pop_class_t c)
{
    static const char *const names[] = {"up", "shedding", "down", "overridden"};
    return names[c];
}

const char *status_pop_class_color(status_pop_class_t c)
{
    static const char *const colors[] = {"#2e9e4f", "#e8a317", "#d63031", "#8c8c8c"};
    return colors[c];
}

static const char *force_name(const health_override_t *o)
{
    if (!o)
        return NULL;
    switch (o->force) {
    case HEALTH_FORCE_UP:
        return "forced up";
    case HEALTH_FORCE_DOWN:
        return "forced down";
    case HEALTH_FORCE_DRAIN:
        return "drain";
    default:
        return NULL;
    }
}

/* The PoP's report, or NULL before the first health computation. */
static const health_pop_report_t *pop_report(const metrics_facts_t *f, size_t i)
{
    return f->report && i < POPS_MAX ? &f->report->pop[i] : NULL;
}

static uint64_t pop_answers(const metrics_facts_t *f, size_t i)
{
    if (!f->pop_slot || !f->counters)
        return 0;
    return atomic_load_explicit(&f->counters->pop_answers[f->pop_slot[i]], memory_order_relaxed);
}

static const char *pop_class_name(const health_pop_report_t *r)
{
    return r ? status_pop_class_name(status_pop_classify(r)) : "unknown";
}

static const char *pop_color(const health_pop_report_t *r)
{
    return r ? status_pop_class_color(status_pop_classify(r)) : "#8c8c8c";
}

/* "ams: up, sin: down (stale)" */
static void vantage_views(metrics_buf_t *b, const metrics_facts_t *f, size_t i)
{
    const health_pop_report_t *r = pop_report(f, i);
    bool any = false;
    for (size_t v = 0; r && v < f->report->nfiles; v++) {
        if (r->vantage_state[v] == HEALTH_UNKNOWN)
            continue;
        metrics_buf_puts(b, any ? ", " : "");
        metrics_buf_html(b, f->report->vantage[v]);
        metrics_buf_printf(b, ": %s%s", health_state_name(r->vantage_state[v]),
                           r->vantage_fresh[v]           ? ""
                           : f->report->vantage_ahead[v] ? " (ahead)"
                                                         : " (stale)");
        any = true;
    }
    if (!any)
        metrics_buf_puts(b, "no vantage reports it");
}

static void html_map(metrics_buf_t *b, const metrics_facts_t *f)
{
    metrics_buf_puts(b, "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"" MAP_VIEW
                        "\" role=\"img\" aria-label=\"PoPs on a world map\">\n"
                        "<rect x=\"0\" y=\"0\" width=\"1000\" height=\"500\" class=\"sea\"/>\n"
                        "<g class=\"grid\">");
    for (int lon = -180 + MAP_GRID; lon < 180; lon += MAP_GRID)
        metrics_buf_printf(b, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"500\"/>", map_x(lon),
                           map_x(lon));
    for (int lat = -90 + MAP_GRID; lat < 90; lat += MAP_GRID)
        metrics_buf_printf(b, "<line x1=\"0\" y1=\"%.1f\" x2=\"1000\" y2=\"%.1f\"/>", map_y(lat),
                           map_y(lat));
    metrics_buf_puts(b, "</g>\n<g class=\"land\">\n");
    for (size_t k = 0; k < status_nland; k++) {
        metrics_buf_printf(b, "<polygon data-land=\"%s\" points=\"", status_land[k].name);
        for (size_t j = 0; j < status_land[k].n; j++)
            metrics_buf_printf(b, "%s%.1f,%.1f", j ? " " : "", map_x(status_land[k].pt[j][0]),
                               map_y(status_land[k].pt[j][1]));
        metrics_buf_puts(b, "\"/>\n");
    }
    metrics_buf_puts(b, "</g>\n<g class=\"pops\">\n");
    for (size_t i = 0; f->pops && i < f->pops->npops; i++) {
        const pops_pop_t *p = &f->pops->pop[i];
        const health_pop_report_t *r = pop_report(f, i);
        double ratio = r && r->has_load ? r->ratio : 0;
        double rad = DOT_MIN + DOT_SPAN * fmin(ratio, RATIO_FULL) / RATIO_FULL;
        double x = map_x(p->lon), y = map_y(p->lat);
        metrics_buf_puts(b, "<g class=\"pop\" data-pop=\"");
        metrics_buf_html(b, p->name);
        metrics_buf_printf(b, "\" data-state=\"%s\">", pop_class_name(r));
        metrics_buf_printf(b,
                           "<circle class=\"dot %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
                           "fill=\"%s\"><title>",
                           pop_class_name(r), x, y, rad, pop_color(r));
        metrics_buf_html(b, p->name);
        metrics_buf_printf(b, ": %s</title></circle>", pop_class_name(r));
        metrics_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + rad + 3, y - 2);
        metrics_buf_html(b, p->name);
        if (r && r->has_load)
            metrics_buf_printf(b, " %.0f%%", ratio * 100);
        if (r)
            metrics_buf_printf(b, " keep %.0f%%", r->keep * 100);
        metrics_buf_printf(b, "</text><text class=\"views\" x=\"%.1f\" y=\"%.1f\">", x + rad + 3,
                           y + 10);
        vantage_views(b, f, i);
        metrics_buf_puts(b, "</text></g>\n");
    }
    metrics_buf_puts(b, "</g>\n</svg>\n");
}

static void html_table(metrics_buf_t *b, const metrics_facts_t *f)
{
    metrics_buf_puts(b, "<table id=\"pops\">\n<tr><th>PoP</th><th>state</th><th>why</th>"
                        "<th>load</th><th>share kept</th><th>answers</th><th>vantages</th>"
                        "<th>location</th></tr>\n");
    for (size_t i = 0; f->pops && i < f->pops->npops; i++) {
        const pops_pop_t *p = &f->pops->pop[i];
        const health_pop_report_t *r = pop_report(f, i);
        metrics_buf_puts(b, "<tr data-pop=\"");
        metrics_buf_html(b, p->name);
        metrics_buf_printf(b, "\" data-state=\"%s\"><td>", pop_class_name(r));
        metrics_buf_html(b, p->name);
        metrics_buf_printf(b, "</td><td><span class=\"swatch\" style=\"background:%s\"></span>%s",
                           pop_color(r), pop_class_name(r));
        const char *force = r ? force_name(r->override) : NULL;
        if (force)
            metrics_buf_printf(b, " (%s)", force);
        metrics_buf_puts(b, "</td><td>");
        metrics_buf_html(b, r ? r->why : "no health computed yet");
        if (r && r->has_load && p->capacity)
            metrics_buf_printf(b, "</td><td>%.1f%% (%.0f of %u)", r->ratio * 100, r->load,
                               p->capacity);
        else
            metrics_buf_puts(b, "</td><td>-");
        if (r)
            metrics_buf_printf(b, "</td><td>%.1f%%", r->keep * 100);
        else
            metrics_buf_puts(b, "</td><td>-");
        metrics_buf_printf(b, "</td><td>%llu</td><td>", (unsigned long long)pop_answers(f, i));
        vantage_views(b, f, i);
        metrics_buf_printf(b, "</td><td>%.2f, %.2f</td></tr>\n", p->lat, p->lon);
    }
    metrics_buf_puts(b, "</table>\n");
}

static const char page_style[] =
    "body{font:14px system-ui,sans-serif;margin:16px;background:#fafaf7;color:#222}"
    "h1{font-size:20px;margin:0 0 4px}p.facts{margin:0 0 10px;color:#555}"
    "svg{display:block;width:100%;max-width:1200px;height:auto;border:1px solid #9aa9b5}"
    ".sea{fill:#d4e6f1}.grid line{stroke:#b9d0e0;stroke-width:.6}"
    ".land polygon{fill:#ece6d3;stroke:#a39a7c;stroke-width:.7;stroke-linejoin:round}"
    ".pop circle{stroke:#222;stroke-width:1;fill-opacity:.9}"
    ".pop text{font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px;fill:#111}"
    ".pop text.views{font-size:9px;fill:#444}"
    "table{border-collapse:collapse;margin-top:12px}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#eee}.swatch{display:inline-block;width:10px;height:10px;border-radius:5px;"
    "margin-right:5px;border:1px solid #333}.legend span{margin-right:14px}";

void status_html_render(metrics_buf_t *b, const metrics_facts_t *f)
{
    metrics_buf_printf(b,
                       "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                       "<meta http-equiv=\"refresh\" content=\"2\">\n"
                       "<title>geodnsd status</title>\n<style>%s</style></head>\n<body>\n"
                       "<h1>geodnsd status</h1>\n<p class=\"facts\">version ",
                       page_style);
    metrics_buf_html(b, f->version);
    char when[32] = "?";
    time_t now = (time_t)f->now;
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    metrics_buf_printf(b, " &middot; config generation %llu &middot; health generation %llu",
                       (unsigned long long)f->config_generation,
                       (unsigned long long)f->health_generation);
    if (f->report && f->report->mode) {
        metrics_buf_puts(b, " &middot; health: ");
        metrics_buf_html(b, f->report->mode);
    }
    metrics_buf_printf(b, " &middot; %s</p>\n", when);
    html_map(b, f);
    metrics_buf_puts(b, "<p class=\"legend\">");
    for (int c = STATUS_POP_UP; c <= STATUS_POP_OVERRIDDEN; c++)
        metrics_buf_printf(
            b, "<span><span class=\"swatch\" style=\"background:%s\"></span>%s</span>",
            status_pop_class_color((status_pop_class_t)c),
            c == STATUS_POP_OVERRIDDEN ? "drained or overridden"
                                       : status_pop_class_name((status_pop_class_t)c));
    metrics_buf_puts(b, "<span>circle size: load</span></p>\n");
    html_table(b, f);
    metrics_buf_puts(b, "<p class=\"facts\">Machine-readable: <a href=\"/status.json\">"
                        "/status.json</a>, <a href=\"/metrics\">/metrics</a></p>\n"
                        "</body></html>\n");
}

static void json_str(metrics_buf_t *b, const char *s)
{
    metrics_buf_puts(b, "\"");
    metrics_buf_json(b, s);
    metrics_buf_puts(b, "\"");
}

void status_json_render(metrics_buf_t *b, const metrics_facts_t *f)
{
    const health_report_t *rep = f->report;
    metrics_buf_puts(b, "{\"version\": ");
    json_str(b, f->version);
    metrics_buf_printf(b,
                       ", \"time\": %lld, \"config_generation\": %llu, "
                       "\"health_generation\": %llu, \"health_mode\": ",
                       (long long)f->now, (unsigned long long)f->config_generation,
                       (unsigned long long)f->health_generation);
    if (rep && rep->mode)
        json_str(b, rep->mode);
    else
        metrics_buf_puts(b, "null");
    metrics_buf_puts(b, ",\n \"vantages\": [");
    for (size_t v = 0; rep && v < rep->nfiles; v++) {
        metrics_buf_puts(b, v ? ", {\"name\": " : "{\"name\": ");
        json_str(b, rep->vantage[v]);
        bool fresh = f->pops && f->pops->npops && rep->pop[0].vantage_fresh[v];
        metrics_buf_printf(b, ", \"time\": %lld, \"fresh\": %s}", (long long)rep->file_time[v],
                           fresh ? "true" : "false");
    }
    metrics_buf_puts(b, "],\n \"pops\": [");
    for (size_t i = 0; f->pops && i < f->pops->npops; i++) {
        const pops_pop_t *p = &f->pops->pop[i];
        const health_pop_report_t *r = pop_report(f, i);
        metrics_buf_puts(b, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
        json_str(b, p->name);
        metrics_buf_printf(b,
                           ", \"lat\": %.4f, \"lon\": %.4f, \"state\": \"%s\", \"color\": \"%s\"",
                           p->lat, p->lon, pop_class_name(r), pop_color(r));
        metrics_buf_printf(b, ", \"up\": %s", r && r->state == HEALTH_UP ? "true" : "false");
        if (r && r->has_load && p->capacity)
            metrics_buf_printf(b, ", \"load\": %.6g, \"load_ratio\": %.6g", r->load, r->ratio);
        else
            metrics_buf_puts(b, ", \"load\": null, \"load_ratio\": null");
        if (r)
            metrics_buf_printf(b, ", \"share_kept\": %.6g", r->keep);
        else
            metrics_buf_puts(b, ", \"share_kept\": null");
        metrics_buf_printf(b, ", \"capacity\": %u, \"answers\": %llu, \"override\": ", p->capacity,
                           (unsigned long long)pop_answers(f, i));
        const char *force = r ? force_name(r->override) : NULL;
        if (force)
            json_str(b, force);
        else
            metrics_buf_puts(b, "null");
        metrics_buf_puts(b, ", \"why\": ");
        json_str(b, r ? r->why : "");
        metrics_buf_puts(b, ", \"vantages\": {");
        bool any = false;
        for (size_t v = 0; r && v < rep->nfiles; v++) {
            if (r->vantage_state[v] == HEALTH_UNKNOWN)
                continue;
            metrics_buf_puts(b, any ? ", " : "");
            json_str(b, rep->vantage[v]);
            metrics_buf_printf(b, ": \"%s\"", health_state_name(r->vantage_state[v]));
            any = true;
        }
        metrics_buf_puts(b, "}}");
    }
    metrics_buf_puts(b, "\n]}\n");
}
