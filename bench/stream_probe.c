/*
 * Memory bandwidth of this machine on one thread and on two, for reading the two-core figures
 * (docs/performance.md): a triad c = a + 1.5 b over three 64 MiB float arrays per thread, five
 * timed passes after two untimed ones, each thread on its own arrays. Not part of the project's
 * build; needs a C compiler (Debian's gcc):
 *
 *   gcc -O2 -march=native -pthread bench/stream_probe.c -o /tmp/stream_probe
 *   /tmp/stream_probe 1 && /tmp/stream_probe 2
 *
 * Why by hand: it is the classic STREAM triad cut to the one figure needed here; STREAM itself
 * is not packaged by Debian.
 */
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#define N (16*1024*1024)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {float *a,*b,*c; double gbs;} T;
void* run(void*p){T*t=p; for(int r=0;r<2;r++){for(long i=0;i<N;i++)t->c[i]=t->a[i]+1.5f*t->b[i];}
 double t0=now(); for(int r=0;r<5;r++){for(long i=0;i<N;i++)t->c[i]=t->a[i]+1.5f*t->b[i]; __asm__ volatile(""::"r"(t->c):"memory");} double dt=now()-t0; t->gbs=5.0*3*4*N/dt/1e9; return 0;}
int main(int argc,char**argv){int n=atoi(argv[1]); pthread_t th[4]; T t[4];
 for(int k=0;k<n;k++){t[k].a=malloc(4L*N);t[k].b=malloc(4L*N);t[k].c=malloc(4L*N);for(long i=0;i<N;i++){t[k].a[i]=i;t[k].b[i]=1;t[k].c[i]=0;}}
 for(int k=0;k<n;k++)pthread_create(&th[k],0,run,&t[k]); double s=0; for(int k=0;k<n;k++){pthread_join(th[k],0); s+=t[k].gbs; printf("thread %d: %.1f GB/s\n",k,t[k].gbs);} printf("total %.1f GB/s\n",s);}
