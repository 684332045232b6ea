// Compiled by CMakeLists.txt at configure time: does this libtorch have CUDA graphs, and can labelrep
// compile against its CUDA headers? The same calls src/train/graphed_step.cpp makes.
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

void labelrep_check_cuda_graphs() {
  at::autocast::set_autocast_cache_enabled(at::autocast::is_autocast_cache_enabled());
  auto stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, 0);
  c10::cuda::CUDAStreamGuard guard(stream);
  stream.synchronize();
  at::cuda::CUDAGraph graph;
  graph.capture_begin();
  graph.capture_end();
  graph.replay();
  graph.reset();
}
