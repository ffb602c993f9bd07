"""Model registry: build a model from its name and a configuration dict."""

from rnngmm.models.rnngmm import RNNGMM

#: Every buildable model, by the name used in configs and on the command line.
MODELS = {"rnngmm": RNNGMM}


def build_model(name, **config):
    """Instantiate the registered model ``name`` with ``config``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    **config
        Hyper-parameters (keys of :data:`rnngmm.models.configs.BASE`).

    Returns
    -------
    keras.Model
        Unbuilt model; variables are created on the first call or ``build()``.

    Raises
    ------
    ValueError
        If ``name`` is not registered, or a configuration key is unknown.
    """
    try:
        model_class = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: "
                         f"{sorted(MODELS)}") from None
    return model_class(**config)
