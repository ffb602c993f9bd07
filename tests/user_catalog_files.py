"""Input files of the shapes people have (issue 15.2), for tests/test_user_catalogs.py
and tests/test_pretrained.py: a ZTF light-curve CSV per star, Gaia DR3 epoch
photometry in Parquet, and a plain CSV long table (also as Parquet).

The files have the real shapes: the columns of the IRSA ZTF light-curve API
(``oid, expid, hjd, mjd, mag, magerr, catflags, filtercode, ...``, g and r rows
in one file) and of Gaia's flat (INDIVIDUAL/COMBINED) epoch photometry
(``source_id, transit_id, band, time, mag, flux, flux_error, ...``).
"""

import numpy as np

from rnngmm.io.readers import GAIA_ZERO_POINTS

N_GOOD = 6
ZTF_COLUMNS = ("oid,expid,hjd,mjd,mag,magerr,catflags,filtercode,ra,dec,chi,sharp,"
               "filefracday,field,ccdid,qid,limitmag,magzp,magzprms,clrcoeff,clrcounc,"
               "exptime,airmass,programid")


def sine(rng, n_points, period, start, mean, amplitude=0.4):
    """An irregularly sampled sinusoid over about 900 days."""
    time = start + np.sort(rng.uniform(0, 900, n_points))
    mag = mean + amplitude * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.02, n_points)
    return time, mag, np.full(n_points, 0.02)


def write_ztf(path, curves):
    """One ZTF light-curve API CSV holding the ``(oid, band, time, mag, err)`` curves."""
    lines = [ZTF_COLUMNS]
    for oid, band, time, mag, err in curves:
        for t, m, e in zip(time, mag, err):
            lines.append(f"{oid},{int(t * 1e4)},{t + 2400000.5:.6f},{t:.6f},{m:.4f},{e:.4f},0,"
                         f"{band},150.1,2.2,1.1,0.01,{int(t * 1e4)},700,3,2,20.8,26.3,"
                         "0.03,0.1,0.01,30.0,1.1,1")
    path.write_text("\n".join(lines) + "\n")


def write_gaia(path, source_id, rng, period, bands=("G", "BP", "RP"), negative=False):
    """One source's flat Gaia DR3 epoch photometry as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    time, mag, _ = sine(rng, 70, period, 1700.0, 15.0)
    rows = {"band": [], "time": [], "mag": [], "flux": []}
    for offset, band in enumerate(bands):
        flux = 10 ** ((GAIA_ZERO_POINTS[band] - mag - 0.3 * offset) / 2.5)
        if negative:
            flux = -flux
        rows["band"] += [band] * len(time)
        rows["time"] += list(time + 0.001 * offset)
        rows["mag"] += list(mag + 0.3 * offset)
        rows["flux"] += list(flux)
    n = len(rows["time"])
    flux = np.array(rows["flux"])
    rejected = np.zeros(n, bool)
    rejected[::17] = True
    pq.write_table(pa.table({
        "source_id": pa.array([source_id] * n, pa.int64()),
        "transit_id": pa.array(np.arange(n) + 10 ** 15, pa.int64()),
        "band": rows["band"], "time": rows["time"], "mag": rows["mag"], "flux": flux,
        "flux_error": np.abs(flux) * 0.02 * np.log(10) / 2.5,
        "flux_over_error": np.full(n, 54.0),
        "rejected_by_photometry": np.zeros(n, bool), "rejected_by_variability": rejected,
        "other_flags": pa.array(np.zeros(n), pa.int64()),
        "solution_id": pa.array([375316653866487564] * n, pa.int64())}), path)


def write_user_catalogs(root):
    """The three kinds of input under ``root``, with one bad object each; returns root."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(7)
    periods = rng.uniform(0.4, 4.0, N_GOOD)

    ztf = root / "ztf"
    ztf.mkdir()
    rows = ["id,ra,dec,period"]
    for k in range(N_GOOD):
        g = sine(rng, 60, periods[k], 58200.0, 15.5)
        r = sine(rng, 80, periods[k], 58200.0, 15.0)
        write_ztf(ztf / f"star{k}.csv", [(680000 + k, "zg", *g), (690000 + k, "zr", *r)])
        rows.append(f"star{k},150.1,2.2,{periods[k]:.6f}" if k % 2 else f"star{k},150.1,2.2,")
    write_ztf(ztf / "onlyg.csv", [(681000, "zg", *sine(rng, 60, 1.0, 58200.0, 15.5))])
    rows.append("onlyg,150.2,2.3,1.0")
    (root / "ztf_catalog.csv").write_text("\n".join(rows) + "\n")

    gaia = root / "gaia"
    gaia.mkdir()
    source_ids = [4111834567779557376 + 1000 * k for k in range(N_GOOD + 1)]
    for k, source_id in enumerate(source_ids):
        write_gaia(gaia / f"{source_id}.parquet", source_id, rng, periods[k % N_GOOD],
                   negative=k == N_GOOD)
    pq.write_table(pa.table({"source_id": pa.array(source_ids, pa.int64()),
                             "period": list(periods) + [None],
                             "phot_g_mean_mag": np.full(N_GOOD + 1, 15.0)}),
                   root / "gaia_catalog.parquet")

    table = {"star": [], "hjd": [], "flux": [], "flux_err": []}
    for k in range(N_GOOD):
        time, mag, err = sine(rng, 90, periods[k], 2457000.0, 14.0)
        flux = 10 ** ((25.0 - mag) / 2.5)
        table["star"] += [f"s{k:02d}"] * len(time)
        table["hjd"] += list(time)
        table["flux"] += list(flux)
        table["flux_err"] += list(flux * err * np.log(10) / 2.5)
    lines = ["star,hjd,flux,flux_err"] + [
        f"{s},{float(t)!r},{float(f)!r},{float(e)!r}" for s, t, f, e in zip(*table.values())]
    (root / "plain.csv").write_text("\n".join(lines) + "\n")
    pq.write_table(pa.table(table), root / "plain.parquet", row_group_size=200)
    (root / "plain_catalog.csv").write_text(
        "name,period\n" + "".join(f"s{k:02d},{periods[k]:.6f}\n" for k in range(N_GOOD))
        + "missing,1.0\n")
    return root
