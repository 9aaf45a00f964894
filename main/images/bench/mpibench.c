/*
 * The mpi experiment's probe (vlx experiment run mpi), IMB-style: ping-pong between the rank
 * pairs given on the command line, then MPI_Allreduce (MPI_SUM of doubles) across all ranks,
 * each by message size. Every measurement starts with a warm-up whose time sets the repetition
 * count, so that each size runs for about the budget given (-t, seconds per size).
 * Built with `mpicc -O2` into the bench image (images/benchMpi.ts).
 *
 * Usage: mpibench -t SECONDS_PER_SIZE -s SIZE[,SIZE…] [-p NAME:RANK_A:RANK_B]…
 * Output, one line each, printed by rank 0 only (the machine-readable part; the reader is
 * main/domain/experimentParse.ts):
 *   vlx-mpi pingpong NAME SIZE REPS USEC_HALF_ROUND_TRIP MB_PER_S
 *   vlx-mpi allreduce NP SIZE REPS USEC_PER_CALL
 *   vlx-mpi done NP
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIZES 32
#define MAX_PAIRS 8
#define WARMUP 4
#define MAX_REPS 100000

struct pair { char name[32]; int a, b; };

static int reps_for(double budget, double per_rep) {
  double r = per_rep > 0 ? budget / per_rep : MAX_REPS;
  if (r < 1) return 1;
  if (r > MAX_REPS) return MAX_REPS;
  return (int)r;
}

/* Round trips between a and b; answers the seconds per round trip on rank a (0 elsewhere). */
static double round_trips(char *buf, int size, int reps, int me, int a, int b) {
  double t0 = MPI_Wtime();
  for (int i = 0; i < reps; i++) {
    if (me == a) {
      MPI_Send(buf, size, MPI_BYTE, b, 1, MPI_COMM_WORLD);
      MPI_Recv(buf, size, MPI_BYTE, b, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (me == b) {
      MPI_Recv(buf, size, MPI_BYTE, a, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, size, MPI_BYTE, a, 1, MPI_COMM_WORLD);
    }
  }
  return me == a ? (MPI_Wtime() - t0) / reps : 0;
}

static void pingpong(struct pair *p, int size, double budget, int me, char *buf) {
  MPI_Barrier(MPI_COMM_WORLD);
  double warm = round_trips(buf, size, WARMUP, me, p->a, p->b);
  int reps = reps_for(budget, warm);
  MPI_Bcast(&reps, 1, MPI_INT, p->a, MPI_COMM_WORLD);
  double t = round_trips(buf, size, reps, me, p->a, p->b);
  /* Rank 0 prints: the measuring rank a sends it the time. */
  if (me == p->a && me != 0) MPI_Send(&t, 1, MPI_DOUBLE, 0, 2, MPI_COMM_WORLD);
  if (me == 0 && p->a != 0) MPI_Recv(&t, 1, MPI_DOUBLE, p->a, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (me == 0) {
    double half = t / 2;
    printf("vlx-mpi pingpong %s %d %d %.6g %.6g\n", p->name, size, reps, half * 1e6, size / half / 1e6);
    fflush(stdout);
  }
}

static void allreduce(int size, double budget, int me, int np, double *in, double *out) {
  int n = size / (int)sizeof(double);
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  for (int i = 0; i < WARMUP; i++) MPI_Allreduce(in, out, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  int reps = reps_for(budget, (MPI_Wtime() - t0) / WARMUP);
  MPI_Bcast(&reps, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = MPI_Wtime();
  for (int i = 0; i < reps; i++) MPI_Allreduce(in, out, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double mine = (MPI_Wtime() - t0) / reps, sum = 0;
  /* IMB's t_avg: the mean over the ranks of each rank's time per call. */
  MPI_Reduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (me == 0) {
    printf("vlx-mpi allreduce %d %d %d %.6g\n", np, size, reps, sum / np * 1e6);
    fflush(stdout);
  }
}

static void usage(const char *why) {
  fprintf(stderr, "mpibench: %s\nusage: mpibench -t SECONDS_PER_SIZE -s SIZE[,SIZE...] [-p NAME:RANK_A:RANK_B]...\n", why);
  MPI_Abort(MPI_COMM_WORLD, 2);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int me, np;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &np);
  double budget = -1;
  int sizes[MAX_SIZES], nsizes = 0, npairs = 0, max = 0;
  struct pair pairs[MAX_PAIRS];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-t") && i + 1 < argc) budget = atof(argv[++i]);
    else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      for (char *s = strtok(argv[++i], ","); s; s = strtok(NULL, ",")) {
        if (nsizes == MAX_SIZES) usage("too many sizes");
        int v = atoi(s);
        if (v < 1 || v > (1 << 26)) usage("a size must be 1 B to 64 MiB");
        sizes[nsizes++] = v;
        if (v > max) max = v;
      }
    } else if (!strcmp(argv[i], "-p") && i + 1 < argc) {
      struct pair *p = &pairs[npairs];
      if (npairs == MAX_PAIRS || sscanf(argv[++i], "%31[^:]:%d:%d", p->name, &p->a, &p->b) != 3) usage("bad -p NAME:RANK_A:RANK_B");
      if (p->a < 0 || p->b < 0 || p->a >= np || p->b >= np || p->a == p->b) usage("a pair needs two different ranks below the number of ranks");
      npairs++;
    } else usage("unknown argument");
  }
  if (budget <= 0 || nsizes == 0) usage("-t and -s are required");
  char *buf = calloc(max, 1);
  double *in = calloc(max / sizeof(double) + 1, sizeof(double)), *out = calloc(max / sizeof(double) + 1, sizeof(double));
  if (!buf || !in || !out) usage("out of memory");
  for (int i = 0; i <= max / (int)sizeof(double); i++) in[i] = me + i;
  /* Open MPI connects lazily: make every connection before the first timed warm-up. */
  for (int p = 0; p < npairs; p++) round_trips(buf, 1, 2, me, pairs[p].a, pairs[p].b);
  MPI_Allreduce(in, out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (int p = 0; p < npairs; p++)
    for (int s = 0; s < nsizes; s++) pingpong(&pairs[p], sizes[s], budget, me, buf);
  for (int s = 0; s < nsizes; s++)
    if (sizes[s] >= (int)sizeof(double)) allreduce(sizes[s] - sizes[s] % sizeof(double), budget, me, np, in, out);
  MPI_Barrier(MPI_COMM_WORLD);
  if (me == 0) printf("vlx-mpi done %d\n", np);
  free(buf); free(in); free(out);
  MPI_Finalize();
  return 0;
}
