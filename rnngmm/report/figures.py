"""The pages of ``rnngmm report``: one object's panels on a matplotlib figure.

A page (:func:`page_figure`) holds the object's title (:func:`page_title`)
and five panels (:func:`draw_object`):

* the raw light curve, magnitudes increasing downwards, with the decoder's
  reconstruction over its points when the run reads time lags (a star read
  in several bands: every band in its own colour, each with its own
  reconstruction, the per-band classes and colours in the info panel);
* the light curve folded at its period (two cycles), with the
  reconstruction as a curve per chunk for a folding run, or at the phases of
  its points otherwise;
* the class probabilities (``prob_<class>`` columns), the predicted class in red;
* the energy, its percentile, the ``anomaly_<p>`` flags with their
  thresholds, the period and a few other columns of the table
  (:func:`table_info`), and the page's caveats;
* the nearest catalog objects in latent space, or why there are none.

Drawing only: the objects (:class:`rnngmm.report.job.ReportObject`) arrive
with their light curve, reconstruction and neighbours, and nothing here
calls a model or reads a file. A page that cannot be drawn becomes a page
saying why. matplotlib runs on the Agg backend (:mod:`rnngmm.scoring.plots`).
"""

import logging
import textwrap

import numpy as np

from rnngmm.flagging.table import anomaly_thresholds, table_id_column, table_meta
from rnngmm.latent import CODE_COLUMN
from rnngmm.lightcurves.preprocess import phase_fold
from rnngmm.scoring.plots import plt

log = logging.getLogger(__name__)

#: Size of one object's page (inches) and PNG resolution.
PAGE_SIZE = (13.0, 8.5)
DPI = 100
#: Table columns never shown as "other columns" on a page.
_SHOWN_ELSEWHERE = ("status", "period", "period_source", "predicted_class",
                    "class_probability", "n_chunks", "n_points", "baseline", "energy",
                    "energy_percentile", "novelty_score", "bands_used", "bands_missing")
#: Per-band columns (shown in the info panel's band lines).
_BAND_PREFIXES = ("predicted_class_", "energy_percentile_", "n_points_", "colour_")
#: Colours of the bands of a star read in several bands, in the table's order.
BAND_COLOURS = ("tab:green", "tab:red", "tab:purple", "tab:orange", "tab:brown", "tab:blue")
#: Colour of the reconstruction of a one-band light curve.
RECONSTRUCTION_COLOUR = "tab:red"


def _fmt(value, spec=".4g"):
    if value is None:
        return "n/a"
    if isinstance(value, float) and not np.isfinite(value):
        return "n/a"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def _message(ax, text, title=None):
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, textwrap.fill(text, 60), ha="center", va="center", fontsize=9,
            color="0.25", transform=ax.transAxes, wrap=True)


def _curves(obj):
    """``(band or None, time, mag, err, reconstruction, point colour,
    reconstruction colour)`` of each light curve drawn: one, or one per band."""
    if not obj.bands:
        return [(None, obj.time, obj.mag, obj.err, obj.reconstruction, "0.2",
                 RECONSTRUCTION_COLOUR)]
    return [(name, c.time, c.mag, c.err, c.reconstruction,
             BAND_COLOURS[i % len(BAND_COLOURS)], BAND_COLOURS[i % len(BAND_COLOURS)])
            for i, (name, c) in enumerate(obj.bands.items())]


def _draw_raw(ax, obj):
    for band, time, mag, err, reconstruction, colour, rebuilt in _curves(obj):
        label = f"{len(time)} points" if band is None else f"{band}: {len(time)} points"
        ax.errorbar(time, mag, yerr=err, fmt=".", ms=3, color=colour, ecolor="0.7",
                    elinewidth=0.6, label=label)
        if reconstruction and not obj.folded_model:  # computed on these points
            first = True
            for chunk in reconstruction:
                if chunk.reconstruction is not None:
                    name = ("decoder reconstruction" if band is None
                            else f"{band} reconstruction")
                    ax.plot(chunk.position, chunk.reconstruction, "o", ms=3.5, mfc="none",
                            mew=0.8, color=rebuilt, alpha=0.9, zorder=3,
                            label=name if first else None)
                    first = False
    ax.invert_yaxis()
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_xlabel("time (d)")
    ax.set_ylabel("magnitude")
    ax.set_title("light curve", fontsize=10)
    ax.legend(fontsize=7, loc="best")


def _draw_folded(ax, obj):
    period = obj.period
    if not (np.isfinite(period) and period > 0):
        _message(ax, "no period", "phase-folded light curve")
        return
    drawn = False
    for band, time, mag, err, reconstruction, colour, rebuilt in _curves(obj):
        drawn = _draw_folded_curve(ax, obj, period, band, time, mag, err, reconstruction,
                                   colour, rebuilt) or drawn
    ax.set_xlim(0.0, 2.0)
    ax.invert_yaxis()
    ax.set_xlabel(f"phase (P = {period:.6g} d, two cycles)")
    ax.set_ylabel("magnitude")
    ax.set_title("phase-folded light curve", fontsize=10)
    if drawn:
        ax.legend(fontsize=7, loc="best")


def _draw_folded_curve(ax, obj, period, band, time, mag, err, reconstruction, colour,
                       rebuilt):
    """One light curve folded (two cycles) with its reconstruction; True when a
    reconstruction was drawn."""
    phase = phase_fold(time, period)
    for shift in (0.0, 1.0):
        ax.errorbar(phase + shift, mag, yerr=err, fmt=".", ms=3, color=colour,
                    ecolor="0.7", elinewidth=0.6,
                    label=band if band is not None and shift == 0 else None)
    first = True
    for chunk in reconstruction or []:
        if chunk.reconstruction is None:
            continue
        name = "decoder reconstruction" if band is None else f"{band} reconstruction"
        label = name if first else None
        if obj.folded_model:  # computed on phases: a curve per chunk
            for shift in (0.0, 1.0):
                ax.plot(chunk.position + shift, chunk.reconstruction, "-", color=rebuilt,
                        lw=1.2, alpha=0.8, zorder=3, label=label if shift == 0 else None)
        else:  # computed on times: its points at their phases
            where = phase_fold(chunk.position, period, epoch=time[0])
            for shift in (0.0, 1.0):
                ax.plot(where + shift, chunk.reconstruction, "o", ms=3.5, mfc="none",
                        mew=0.8, color=rebuilt, alpha=0.9, zorder=3,
                        label=label if shift == 0 else None)
        first = False
    return not first or band is not None


def _draw_probabilities(ax, obj, class_names):
    values = [obj.values.get(f"prob_{c}") for c in class_names]
    values = [float(v) if v is not None else np.nan for v in values]
    if not class_names or not np.isfinite(values).any():
        _message(ax, "no class probabilities (the object was not scored)",
                 "class probabilities")
        return
    predicted = str(obj.values.get("predicted_class") or "")
    colours = ["tab:red" if c == predicted else "tab:blue" for c in class_names]
    y = np.arange(len(class_names))
    ax.barh(y, np.nan_to_num(values), color=colours)
    ax.set_yticks(y, class_names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("probability")
    ax.set_title("class probabilities", fontsize=10)


def _info_lines(obj, info):
    v = obj.values
    lines = [f"id         {obj.object_id}", f"status     {v.get('status', 'n/a')}"]
    if v.get("predicted_class"):
        lines.append(f"class      {v['predicted_class']} "
                     f"(p = {_fmt(v.get('class_probability'), '.3f')})")
    lines.append(f"energy     {_fmt(v.get('energy'))}")
    if v.get("novelty_score") is not None:
        score_name = info.get('score_name', 'novelty score')
        lines.append(f"score      {_fmt(v.get('novelty_score'))} ({score_name})")
    lines.append(f"percentile {_fmt(v.get('energy_percentile'), '.2f')} "
                 "(% of training objects lower)")
    for name, threshold in info["flags"]:
        flag = v.get(name)
        mark = "n/a" if flag is None else ("YES" if flag in (True, "True") else "no")
        # thresholds are in the unit of the run's novelty score, not the energy
        limit = (f" ({info.get('score_name', 'novelty score')} > {_fmt(threshold)})"
                 if threshold is not None else "")
        lines.append(f"{name:<11}{mark}{limit}")
    lines.append(f"period     {_fmt(obj.period, '.6g')} d ({v.get('period_source') or 'n/a'})")
    if obj.time is not None:
        lines.append(f"points     {len(obj.time)} cleaned, "
                     f"{len(obj.reconstruction or [])} chunk(s)")
    elif v.get("n_chunks") is not None:
        lines.append(f"chunks     {v.get('n_chunks')}")
    lines.extend(_band_lines(v, info.get("bands") or ()))
    for name in info["other"]:
        value = v.get(name)
        shown = _fmt(value) if value is None or isinstance(value, float) else value
        lines.append(f"{name[:10]:<11}{shown}")
    return lines


def _band_lines(values, bands):
    """Info lines of a star read in several bands: each band's class,
    percentile and points, the colours, and the bands not scored."""
    lines = []
    for band in bands:
        if f"predicted_class_{band}" not in values:
            continue
        lines.append(f"band {band:<5} {values.get(f'predicted_class_{band}') or '-':<8} "
                     f"pct {_fmt(values.get(f'energy_percentile_{band}'), '.1f')}, "
                     f"{values.get(f'n_points_{band}', 0)} points")
    for first, second in zip(bands, bands[1:]):
        name = f"colour_{first}_{second}"
        if name in values:
            lines.append(f"{first}-{second:<6}{_fmt(values.get(name), '.3f')} mag")
    if values.get("bands_missing"):
        lines.extend(textwrap.wrap(f"bands not scored: {values['bands_missing']}", 52))
    return lines


def _draw_info(ax, obj, info):
    ax.set_axis_off()
    ax.set_title("energy and flags", fontsize=10)
    lines = _info_lines(obj, info)
    for note in ([obj.problem] if obj.problem else []) + obj.notes:
        lines.extend(textwrap.wrap(f"! {note}", 52))
    ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", family="monospace",
            fontsize=7.5, transform=ax.transAxes)


def _draw_neighbours(ax, obj):
    ax.set_axis_off()
    ax.set_title("nearest catalog objects (latent code)", fontsize=10)
    if not isinstance(obj.neighbours, list):
        text = obj.neighbours or "neighbours not asked for"
        ax.text(0.0, 1.0, "\n".join(textwrap.wrap(text, 50)), ha="left", va="top",
                fontsize=7.5, transform=ax.transAxes, color="0.3")
        return
    lines = [f"{'':2}{'id':<16} {'class':<8} {'distance':>8} {'pct':>6}"]
    for rank, n in enumerate(obj.neighbours, 1):
        lines.append(f"{rank:<2}{n.object_id[:16]:<16} {n.predicted_class[:8]:<8} "
                     f"{n.distance:8.3f} {_fmt(n.energy_percentile, '6.1f')}")
    lines.append("")
    lines.append("distance: Euclidean, code components")
    lines.append("standardised over the table's scored")
    lines.append("objects; pct: energy percentile")
    ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", family="monospace",
            fontsize=7.5, transform=ax.transAxes)


def page_title(obj, position, total):
    """Title of an object's page: rank, id, class and energy."""
    v = obj.values
    parts = [f"{position}/{total}  {obj.object_id}"]
    if v.get("predicted_class"):
        parts.append(f"predicted {v['predicted_class']}")
    if v.get("energy") is not None and np.isfinite(v.get("energy")):
        parts.append(f"energy {_fmt(v['energy'])} (percentile "
                     f"{_fmt(v.get('energy_percentile'), '.1f')})")
    return "   ".join(parts)


def draw_object(fig, obj, class_names, info, title):
    """Draw one object's panels on ``fig`` (a Figure or a SubFigure)."""
    fig.suptitle(title, fontsize=12, ha="left", x=0.01)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1.0])
    ax_raw, ax_fold = top.subplots(1, 2)
    ax_prob, ax_info, ax_near = bottom.subplots(1, 3, width_ratios=[1.0, 1.25, 1.1])
    if obj.time is None:
        _message(ax_raw, obj.problem or "no light curve", "light curve")
        _message(ax_fold, obj.problem or "no light curve", "phase-folded light curve")
    else:
        _draw_raw(ax_raw, obj)
        _draw_folded(ax_fold, obj)
    _draw_probabilities(ax_prob, obj, class_names)
    _draw_info(ax_info, obj, info)
    _draw_neighbours(ax_near, obj)


def _failed_page(fig, obj, title, exc):
    fig.suptitle(title, fontsize=12, ha="left", x=0.01)
    ax = fig.add_subplot(1, 1, 1)
    _message(ax, f"this page could not be drawn: {type(exc).__name__}: {exc}")


def table_info(table, id_col=None):
    """What every page shows of the table as a whole.

    Parameters
    ----------
    table : astropy.table.Table
        The flag table.
    id_col : str, optional
        Its id column (default: the first column).

    Returns
    -------
    dict
        ``"flags"``: the ``anomaly_<p>`` columns with their thresholds
        (:func:`rnngmm.flagging.table.anomaly_thresholds`), which are in the
        unit of ``"score_name"``, the run's novelty score the table records;
        ``"other"``: up to six pass-through columns shown in the info panel;
        ``"bands"``: the bands of a table of stars read in several bands
        (``bands`` metadata; ``[]`` for one band).
    """
    flags = anomaly_thresholds(table)
    score_name = str(table_meta(table, "novelty_score") or "novelty score")
    id_col = table_id_column(table, id_col)
    bands = table_meta(table, "bands")
    bands = [str(b) for b in bands] if isinstance(bands, (list, tuple)) else []
    band_columns = {f"{prefix}{band}" for prefix in _BAND_PREFIXES[:3] for band in bands}
    band_columns |= {f"colour_{a}_{b}" for a, b in zip(bands, bands[1:])}
    other = [name for name in table.colnames
             if name not in _SHOWN_ELSEWHERE and name != id_col and name not in band_columns
             and not name.startswith(("prob_", "anomaly_")) and not CODE_COLUMN.match(name)]
    return {"flags": flags, "other": other[:6], "score_name": score_name, "bands": bands}


def page_figure(obj, position, total, class_names, info, figure=None):
    """A figure holding one object's page.

    Parameters
    ----------
    obj : rnngmm.report.job.ReportObject
    position, total : int
        The object's rank (from 1) and the number of objects in the report.
    class_names : list of str
    info : dict
        :func:`table_info` of the table.
    figure : matplotlib.figure.SubFigure, optional
        Draw here instead of on a new :data:`PAGE_SIZE` figure.

    Returns
    -------
    matplotlib.figure.Figure or SubFigure
        A page saying why when the object's page could not be drawn.
    """
    fig = figure if figure is not None else plt.figure(figsize=PAGE_SIZE,
                                                      layout="constrained")
    title = page_title(obj, position, total)
    try:
        draw_object(fig, obj, class_names, info, title)
    except Exception as exc:  # noqa: BLE001 - one object's page, never the report
        log.warning(f"report: page of {obj.object_id!r} could not be drawn: {exc}")
        if figure is None:
            plt.close(fig)
            fig = plt.figure(figsize=PAGE_SIZE, layout="constrained")
        else:
            fig.clear()
        _failed_page(fig, obj, title, exc)
    return fig


def sheet_figure(objects, class_names, info):
    """One tall figure holding the page of every object, in order (a PNG report)."""
    total = len(objects)
    fig = plt.figure(figsize=(PAGE_SIZE[0], PAGE_SIZE[1] * total), layout="constrained")
    subs = fig.subfigures(total, 1) if total > 1 else [fig.subfigures(1, 1)]
    for position, (obj, sub) in enumerate(zip(objects, np.ravel(subs)), 1):
        page_figure(obj, position, total, class_names, info, figure=sub)
    return fig


def close(fig):
    """Free a figure of this module once it is saved (pyplot keeps it until then)."""
    plt.close(fig)
