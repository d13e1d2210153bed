"""Work spread over several processes or machines (Ray): see ray_pool."""
