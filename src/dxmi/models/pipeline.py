"""The exported few-step image sampler as a diffusers pipeline: `DxMIScheduler` (explicit
timesteps, the DDPM posterior or DDIM mean between them, the learned per-step sigmas) and
`DxMIPipeline` (a `UNet2DModel` and that scheduler). ``dxmi finetune`` writes its ``sampler/``
folder in diffusers' layout, so a diffusers user loads it with
``DxMIPipeline.from_pretrained("runs/t4/sampler")`` and calls it like a `DDPMPipeline`."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from diffusers import DDPMScheduler, DiffusionPipeline, ImagePipelineOutput, UNet2DModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin, SchedulerOutput
from diffusers.utils.torch_utils import randn_tensor

from dxmi.diffusion.policy import step_mean
from dxmi.diffusion.schedules import step_coefficients
from dxmi.networks.unet import check_class_labels, unet_classes


class DxMIScheduler(SchedulerMixin, ConfigMixin):
    """A T-step DxMI sampler's step rule. ``timesteps`` run from noise to data (strictly
    decreasing); step i goes from timesteps[i] to timesteps[i + 1] (the last one to data) with
    the mean of `dxmi.diffusion.policy.GaussianPolicy` and noise of std ``sigmas[i]``."""

    config_name = "scheduler_config.json"
    order = 1

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
        timesteps: list[int] | None = None,
        sigmas: list[float] | None = None,
        clip_x0: float = 0.0,
        eta: float = 1.0,
    ) -> None:
        steps = list(timesteps or [num_train_timesteps - 1])
        sigmas = list(sigmas or [1e-3] * len(steps))
        if len(sigmas) != len(steps) or any(a <= b for a, b in zip(steps, steps[1:])):
            raise ValueError(f"timesteps {steps} must strictly decrease, one sigma each")
        abar = DDPMScheduler(
            num_train_timesteps=num_train_timesteps,
            beta_start=beta_start,
            beta_end=beta_end,
            beta_schedule=beta_schedule,
        ).alphas_cumprod.double()
        self._c = SimpleNamespace(**step_coefficients(abar, steps, eta))
        self._sigmas = torch.tensor(sigmas, dtype=torch.float32)
        self.timesteps = torch.tensor(steps, dtype=torch.long)
        self.num_inference_steps = len(steps)
        self.init_noise_sigma = 1.0

    def set_timesteps(self, num_inference_steps: int | None = None, device=None) -> None:
        """The steps are fixed by training: only their number (or None) is accepted."""
        if num_inference_steps not in (None, len(self.timesteps)):
            raise ValueError(
                f"this sampler was trained for {len(self.timesteps)} steps, not "
                f"{num_inference_steps}"
            )
        self.timesteps = self.timesteps.to(device)

    def scale_model_input(self, sample: torch.Tensor, timestep=None) -> torch.Tensor:
        return sample

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int | torch.Tensor,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> SchedulerOutput | tuple:
        """x at `timestep` and its predicted eps -> x at the next timestep (or the data)."""
        where = (self.timesteps.cpu() == int(timestep)).nonzero()
        if len(where) != 1:
            raise ValueError(f"timestep {int(timestep)} is not one of {self.timesteps.tolist()}")
        i = int(where[0, 0])
        c = SimpleNamespace(**{k: v.to(sample.device) for k, v in vars(self._c).items()})
        t = torch.full((sample.shape[0],), i, dtype=torch.long, device=sample.device)
        cfg = self.config
        mean = step_mean(c, t, sample, model_output, cfg.clip_x0, cfg.eta)
        noise = randn_tensor(
            sample.shape, generator=generator, device=sample.device, dtype=sample.dtype
        )
        prev = mean + self._sigmas[i].to(sample.device) * noise
        return SchedulerOutput(prev_sample=prev) if return_dict else (prev,)


class DxMIPipeline(DiffusionPipeline):
    """Few-step image generation with a DxMI-fine-tuned `UNet2DModel` (`DxMIScheduler`)."""

    def __init__(self, unet: UNet2DModel, scheduler: DxMIScheduler) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: torch.Generator | None = None,
        class_labels: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> ImagePipelineOutput | tuple:
        """`batch_size` images from noise (of the classes `class_labels`, one int or one per
        image, for a class-conditional UNet); `output_type` "pil", "np" (NHWC in [0, 1]) or "pt"
        (NCHW in [-1, 1]). The same generator seed gives the images of
        ``ImageSampler.sample(batch_size, seed)``."""
        cfg = self.unet.config
        size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
        shape = (batch_size, cfg.in_channels, size, size)
        x = randn_tensor(shape, generator=generator, device=self.device, dtype=self.unet.dtype)
        classes = unet_classes(self.unet)
        labels = check_class_labels(class_labels, classes, "DxMIPipeline", batch_size)
        kwargs = {} if labels is None else {"class_labels": labels.to(self.device)}
        for t in self.progress_bar(self.scheduler.timesteps):
            eps = self.unet(x, t, **kwargs).sample
            x = self.scheduler.step(eps, t, x, generator=generator).prev_sample
        x = x.clamp(-1, 1)
        if output_type == "pt":
            images = x
        else:
            images = (x / 2 + 0.5).cpu().permute(0, 2, 3, 1).float().numpy()
            if output_type == "pil":
                images = self.numpy_to_pil(images)
        return ImagePipelineOutput(images=images) if return_dict else (images,)
