"""Light-curve files of several bands, shaped as the archives deliver them (issue 25).

* ZTF (IRSA's light-curve service): one IPAC table per star and band
  (``<id>_g.tbl``, ``<id>_r.tbl``; its default format, with the ``\\key``
  lines and the ``|``-delimited header), or one CSV holding zg and zr rows
  when both bands are asked for at once.
* Gaia DR3 epoch photometry: the flat INDIVIDUAL/COMBINED shape (one row per
  transit and band) and the RAW shape (one row per source holding arrays).
* ASAS-SN Sky Patrol: one CSV with a ``filter`` column holding V and g.

Written with astropy and pyarrow, as real files, so the readers meet the
shapes they will meet in use.
"""

import numpy as np

from rnngmm.io.readers import GAIA_ZERO_POINTS

#: Mean magnitude of each test band (a colour to find again).
MEANS = {"zg": 15.6, "zr": 15.1, "zi": 14.9, "G": 15.0, "BP": 15.4, "RP": 14.4,
         "V": 13.2, "g": 13.6}


def ztf_table(oid, band, n, start=58300.15, step=1.3):
    """An astropy Table of one star's rows of ZTF band ``band`` (``zg``, ``zr``)
    with the columns of IRSA's light-curve API."""
    from astropy.table import Table
    k = np.arange(n)
    table = Table()
    table["oid"] = np.full(n, oid, np.int64)
    table["expid"] = (k + 44012345).astype(np.int32)
    table["hjd"] = start + k * step + 2400000.5 + 0.003
    table["mjd"] = start + k * step
    table["mag"] = (MEANS[band] + 0.3 * np.sin(k)).astype(np.float32)
    table["magerr"] = np.full(n, 0.021, np.float32)
    table["catflags"] = np.zeros(n, np.int32)
    table["filtercode"] = np.array([band] * n, dtype="U2")
    table["ra"] = np.full(n, 120.1230456)
    table["dec"] = np.full(n, 30.2045678)
    table["chi"] = np.full(n, 1.02, np.float32)
    table["sharp"] = np.full(n, -0.01, np.float32)
    table["limitmag"] = np.full(n, 20.8, np.float32)
    table["magzp"] = np.full(n, 26.3, np.float32)
    table["exptime"] = np.full(n, 30.0, np.float32)
    table["airmass"] = np.full(n, 1.2, np.float32)
    table["programid"] = np.ones(n, np.int32)
    for name, unit in (("mjd", "days"), ("hjd", "days"), ("mag", "mag"),
                       ("magerr", "mag"), ("ra", "deg"), ("dec", "deg"), ("exptime", "sec")):
        table[name].unit = unit
    return table


def write_irsa_ipac(path, table):
    """``table`` as IRSA writes it: ``\\key = value`` lines, then the IPAC header."""
    plain = path.parent / (path.name + ".plain")
    table.write(plain, format="ascii.ipac", overwrite=True)
    oid = int(table["oid"][0]) if len(table) else 0
    keywords = ("\\fixlen = T\n\\RowsRetrieved = %d\n"
                "\\ORIGIN  = 'IPAC Infrared Science Archive (IRSA), Caltech/JPL'\n"
                "\\SQL     = 'WHERE (oid = %d) AND (catflags = 0)'\n" % (len(table), oid))
    path.write_text(keywords + plain.read_text())
    plain.unlink()
    return path


def write_ztf_star(directory, star, oid, counts, shape="ipac"):
    """One star's ZTF files: ``counts`` = ``{band (zg, zr): rows}``.

    ``shape="ipac"``: one IPAC table per band, ``<star>_<g|r>.tbl`` (a band
    whose count is None gets no file; 0 rows gives a table with a header
    only, as IRSA returns for a band without data). ``shape="csv"``: one
    ``<star>.csv`` holding every band's rows, bands interleaved in time.
    """
    from astropy.table import vstack
    tables = {band: ztf_table(oid, band, n, start=58300.15 + 0.4 * k)
              for k, (band, n) in enumerate(counts.items()) if n is not None}
    if shape == "ipac":
        for band, table in tables.items():
            write_irsa_ipac(directory / f"{star}_{band[1:]}.tbl", table)
        return
    both = vstack(list(tables.values()))
    both = both[np.argsort(both["mjd"], kind="stable")]
    both.write(directory / f"{star}.csv", format="ascii.csv", overwrite=True)


def gaia_flux(band, mag):
    """Gaia flux (e-/s) of magnitude ``mag`` in ``band`` at the Vega zero point."""
    return 10 ** ((GAIA_ZERO_POINTS[band] - np.asarray(mag, float)) / 2.5)


def write_gaia_flat(path, source_id, n=12, bands=("G", "BP", "RP")):
    """Flat (INDIVIDUAL/COMBINED) Gaia epoch photometry of one source, as Parquet;
    one BP transit rejected by the variability processing."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rows = [(k, band) for k in range(n) for band in bands]
    band = [b for _, b in rows]
    time = np.array([1700.0 + 3.1 * k + 0.01 * bands.index(b) for k, b in rows])
    mag = np.array([MEANS[b] + 0.2 * np.sin(k) for k, b in rows])
    flux = np.array([gaia_flux(b, m) for (_, b), m in zip(rows, mag)])
    rejected = np.array([b == "BP" and k == 0 for k, b in rows])
    table = pa.table({
        "solution_id": pa.array([375316653866487564] * len(rows), pa.int64()),
        "source_id": pa.array([source_id] * len(rows), pa.int64()),
        "transit_id": pa.array([17000000000 + k for k, _ in rows], pa.int64()),
        "band": band, "time": time, "mag": mag, "flux": flux,
        "flux_error": flux * 0.005, "flux_over_error": np.full(len(rows), 200.0),
        "rejected_by_photometry": np.zeros(len(rows), bool),
        "rejected_by_variability": rejected,
        "other_flags": pa.array(np.zeros(len(rows)), pa.int64())})
    pq.write_table(table, path)
    return table


def write_gaia_raw(path, source_id, n=12, bands=("G", "BP", "RP")):
    """RAW Gaia epoch photometry of one source: one row holding arrays per band."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    columns = {"source_id": pa.array([source_id], pa.int64()), "n_transits": [n]}
    names = {"G": ("g_transit_time", "g_transit_flux", "g_transit_flux_error",
                   "variability_flag_g_reject"),
             "BP": ("bp_obs_time", "bp_flux", "bp_flux_error", "variability_flag_bp_reject"),
             "RP": ("rp_obs_time", "rp_flux", "rp_flux_error", "variability_flag_rp_reject")}
    for band in bands:
        k = np.arange(n)
        flux = gaia_flux(band, MEANS[band] + 0.2 * np.sin(k))
        time_col, flux_col, err_col, flag_col = names[band]
        columns[time_col] = [list(1700.0 + 3.1 * k)]
        columns[flux_col] = [list(flux)]
        columns[err_col] = [list(flux * 0.005)]
        columns[flag_col] = [[False] * n]
    pq.write_table(pa.table(columns), path)


ASASSN_HEADER = "HJD,UT Date,Camera,FWHM,Limit,mag,mag_err,flux(mJy),flux_err,Filter\n"


def write_asassn(path, counts, non_detections=0):
    """An ASAS-SN light curve with ``counts`` = ``{filter: rows}`` (V and g),
    plus ``non_detections`` V rows with an upper limit."""
    lines = [ASASSN_HEADER]
    for j, (band, n) in enumerate(counts.items()):
        for k in range(n):
            hjd = 2457000.1 + 2.0 * k + 0.5 * j
            mag = MEANS[band] + 0.1 * np.sin(k)
            lines.append(f"{hjd:.5f},2015-01-01.1,bb,1.5,17.1,{mag:.3f},0.020,8.6,0.1,{band}\n")
    for k in range(non_detections):
        lines.append(f"{2457500.1 + k:.5f},2016-01-01.1,bb,1.5,17.1,>17.5,99.990,0.1,0.1,V\n")
    path.write_text("".join(lines))
    return path
