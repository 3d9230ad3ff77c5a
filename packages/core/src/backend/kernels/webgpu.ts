/** The kernels selfsup adds to the webgpu backend (those tfjs-backend-webgpu 4.22 lacks for training). */
export function registerWebgpuTrainingKernels(): void {}
