"""Train a DeepSpeech2 recogniser: ``python train.py [recipe=tiny_tt] [rank=4] [key=value ...]``.

Recipes and groups are in ``conf/``; ``python train.py --help`` lists them, ``--cfg job``
prints the composed config. Sweep with ``python train.py -m recipe=tiny_tt rank=2,4,8`` and
compare with ``tensorboard --logdir outputs``. Bad input (an unknown key or option, a value out
of range, a bad corpus or checkpoint) ends with one line on stderr and exit status 2;
``DEEPSPEECH_TT_DEBUG=1`` shows the traceback.
"""

import os

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from deepspeech_tt.commands.train import train
from deepspeech_tt.config import composition_error, register_configs
from deepspeech_tt.errors import debugging, fail, reported

register_configs()


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    runtime = HydraConfig.get().runtime
    with reported("train.py"):
        return train(cfg, run_dir=runtime.output_dir, choices=dict(runtime.choices))


if __name__ == "__main__":
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors; they are printed below
    try:
        main()
    except (HydraException, OmegaConfBaseException) as error:
        if debugging():
            raise
        fail("train.py", composition_error(error))
