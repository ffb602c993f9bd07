# slurm/env.sh -- the ONE file to edit for your cluster.
#
# Every script in slurm/ sources this file on the compute node before it runs
# rnngmm. RNNGMM_HOME (the checkout holding this folder) is already set.
# Values already in the environment at submission win over the defaults here
# (sbatch exports your environment), e.g. `RNNGMM_VENV=/path sbatch ...`.

# 1. Software modules of your site (example; names differ between clusters).
#    Load the same MPI that mpi4py/horovod were built against.
# module purge
# module load openmpi/4.1 python/3.11 cuda/12.3 cudnn/9

# 2. The Python environment that has rnngmm installed. Default: the virtualenv
#    scripts/setup.sh creates inside the checkout. A conda environment works too:
#    comment this out and `conda activate <env>` instead.
RNNGMM_VENV=${RNNGMM_VENV:-$RNNGMM_HOME/.venv}

# 3. How ranks are started inside the allocation.
#    srun   : SLURM starts one task per rank (needs SLURM's PMIx or PMI2 plugin
#             matching your MPI; see `srun --mpi=list`).
#    mpirun : Open MPI/Intel MPI's launcher inside the allocation.
#    none   : no launcher; a single process (ntasks must be 1).
RNNGMM_LAUNCHER=${RNNGMM_LAUNCHER:-srun}
RNNGMM_SRUN_FLAGS=${RNNGMM_SRUN_FLAGS---mpi=pmix}
RNNGMM_MPIRUN_FLAGS=${RNNGMM_MPIRUN_FLAGS-}

# 4. Threads per rank: the CPUs SLURM gave each task.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export TF_NUM_INTRAOP_THREADS=${TF_NUM_INTRAOP_THREADS:-$OMP_NUM_THREADS}
export TF_NUM_INTEROP_THREADS=${TF_NUM_INTEROP_THREADS:-2}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-1}

# 5. How often an interrupted training may requeue itself before giving up.
RNNGMM_MAX_RESTARTS=${RNNGMM_MAX_RESTARTS:-20}
